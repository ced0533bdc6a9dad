"""Per-pipeline access: the exporter's NetworkPolicy and ``/rows`` token (issue 15 item 9).

Rendered from Krateo's own example CRs (``fixtures.krateo_examples``), validated with
kubernetes-validate 1.30; the selectors are checked against the pods the same render makes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
from pydantic import SecretStr

from fixtures.krateo_examples import AZURE_FOCUS, DATABASE, ENDPOINT_SECRET, PASSWORD_SECRET, load
from focusflow.exporter.service import SELF_METRICS_PATH
from focusflow.operator import OperatorSettings, render_tree

SETTINGS = OperatorSettings(token_key=SecretStr("k" * 32))


def _tree(settings: OperatorSettings = SETTINGS, **meta: Any) -> list[dict[str, Any]]:
    docs = [load(t) for t in (PASSWORD_SECRET, ENDPOINT_SECRET, DATABASE, AZURE_FOCUS)]
    docs[-1]["metadata"].update(meta)
    return render_tree(docs, settings)


def _one(objects: list[dict[str, Any]], kind: str, name_part: str = "") -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and name_part in o["metadata"]["name"]]
    return found


def _pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_policy_admits_only_the_scraper_and_prometheus() -> None:
    settings = OperatorSettings(prometheus_namespace="observability",
                                prometheus_selector={"app": "prom"})
    objects = _tree(settings)
    policy = _one(objects, "NetworkPolicy")
    kubernetes_validate.validate(copy.deepcopy(policy), "1.30.0", strict=True)
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    exporter = _one(objects, "Deployment", "azure-focus-deployment")
    scraper = _one(objects, "Deployment", "scraper")
    assert _matches(spec["podSelector"]["matchLabels"], _pod_labels(exporter))
    assert not _matches(spec["podSelector"]["matchLabels"], _pod_labels(scraper))
    from_scraper, from_prometheus = spec["ingress"]
    (peer,) = from_scraper["from"]
    assert set(peer) == {"podSelector"}  # same namespace only
    assert _matches(peer["podSelector"]["matchLabels"], _pod_labels(scraper))
    assert not _matches(peer["podSelector"]["matchLabels"], _pod_labels(exporter))
    assert from_prometheus["from"] == [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
        "podSelector": {"matchLabels": {"app": "prom"}}}]
    container = exporter["spec"]["template"]["spec"]["containers"][0]
    assert {p["name"] for p in container["ports"]} == {"http-metrics"}
    # Sized from the load benchmark (docs/operator.md): request >= idle, limit >= a re-poll.
    assert container["resources"]["requests"]["memory"] == "768Mi"
    assert container["resources"]["limits"]["memory"] == "2Gi"
    for rule in spec["ingress"]:
        assert rule["ports"] == [{"protocol": "TCP", "port": "http-metrics"}]


def test_both_pods_mount_the_token_and_it_changes_with_the_spec() -> None:
    objects = _tree(uid="5d1c0f6e-0000-4000-8000-000000000001", generation=3)
    secret = _one(objects, "Secret")
    token = secret["stringData"]["token"]
    assert len(token) >= 40
    exporter = _one(objects, "Deployment", "azure-focus-deployment")["spec"]["template"]["spec"]
    args = exporter["containers"][0]["args"]
    path = args[args.index("--rows-token-file") + 1]
    name, key = secret["metadata"]["name"], "token"
    assert path == f"/var/run/secrets/focusflow/krateo-system/{name}/{key}"
    (volume,) = [v for v in exporter["volumes"] if v.get("secret", {}).get("secretName") == name]
    assert volume["secret"]["items"] == [{"key": "token", "path": "token"}]  # not server-url
    mount = [m for m in exporter["containers"][0]["volumeMounts"]
             if m["name"] == volume["name"]]
    assert mount[0]["mountPath"] == path.rsplit("/", 1)[0]
    scraper = _one(objects, "Deployment", "scraper")["spec"]["template"]["spec"]
    assert name in {v["secret"]["secretName"] for v in scraper["volumes"] if "secret" in v}
    # Stable while the spec is unchanged (blind applies change nothing) ...
    again = _one(_tree(uid="5d1c0f6e-0000-4000-8000-000000000001", generation=3), "Secret")
    assert again["stringData"]["token"] == token
    # ... replaced when the CR changes, different per CR and per operator key.
    changed = _one(_tree(uid="5d1c0f6e-0000-4000-8000-000000000001", generation=4), "Secret")
    other_cr = _one(_tree(uid="5d1c0f6e-0000-4000-8000-000000000002", generation=3), "Secret")
    other_key = _one(_tree(OperatorSettings(token_key=SecretStr("x" * 32)),
                           uid="5d1c0f6e-0000-4000-8000-000000000001", generation=3), "Secret")
    assert len({token, changed["stringData"]["token"], other_cr["stringData"]["token"],
                other_key["stringData"]["token"]}) == 4
    # The exporter's pod template does not change with the token: no rollout, the file is
    # re-read at every request.
    assert _one(objects, "Deployment", "azure-focus-deployment") == _one(
        _tree(uid="5d1c0f6e-0000-4000-8000-000000000001", generation=4), "Deployment",
        "azure-focus-deployment")


def test_service_monitor_scrapes_data_and_self_metrics_of_rendered_exporters() -> None:
    """deploy/monitoring: both pages of every exporter Service the operator renders."""
    import yaml  # noqa: PLC0415

    path = Path(__file__).resolve().parents[3] / "deploy/monitoring/servicemonitor.yaml"
    monitor, pods = yaml.safe_load_all(path.read_text())
    objects = _tree()
    service = _one(objects, "Service")
    assert _matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    (port,) = service["spec"]["ports"]
    assert {(e["port"], e["path"]) for e in monitor["spec"]["endpoints"]} == {
        (port["name"], "/metrics"), (port["name"], SELF_METRICS_PATH)}
    scraper = _one(objects, "Deployment", "scraper")
    assert _matches(pods["spec"]["selector"]["matchLabels"], _pod_labels(scraper))
    (container,) = scraper["spec"]["template"]["spec"]["containers"]
    assert pods["spec"]["podMetricsEndpoints"][0]["port"] in {
        p["name"] for p in container["ports"]}
