"""The real operator (``focusflow operator``, kopf) end to end against the Kubernetes API emulator.

The operator runs as a subprocess that finds the emulator through an ordinary kubeconfig; the
test applies Krateo-shaped objects over HTTP as kubectl would and waits on the emulator's
stored state (no sleeps). Each test uses its own namespace.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
import yaml
from pydantic import SecretStr

from emulators.kube_api import KubeApiEmulator
from fixtures.krateo_examples import (
    AZURE_FOCUS,
    DATABASE,
    ENDPOINT_SECRET,
    PASSWORD_SECRET,
    SECRET_VALUES,
    load,
)
from fixtures.krateo_focus import (
    FOCUS_E2E_1,
    FOCUS_E2E_2,
    GENERATED_ESCS,
    KRATEO,
    docs,
    expected_series,
    krateo_series,
)
from fixtures.net import stop
from focusflow.exporter.config import ExporterConfig
from focusflow.exporter.decode import decode
from focusflow.exporter.exposition import render
from focusflow.exporter.sources import build_source
from focusflow.operator import OperatorSettings, redact, render_tree
from focusflow.operator.names import is_dns_label
from focusflow.operator.pipeline import CONFIG_HASH, PLACEHOLDER_UID
from focusflow.sources import ApiConfig, Endpoint, HttpSource

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

PATHS = {
    "Namespace": "/api/v1/namespaces",
    "Secret": "/api/v1/namespaces/{ns}/secrets",
    "DatabaseConfig": "/apis/finops.krateo.io/v1/namespaces/{ns}/databaseconfigs",
    "ExporterScraperConfig": "/apis/finops.krateo.io/v1/namespaces/{ns}/exporterscraperconfigs",
    "PrometheusExport": "/apis/focusflow.dev/v1alpha1/namespaces/{ns}/prometheusexports",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "ScraperConfig": "/apis/finops.krateo.io/v1/namespaces/{ns}/scraperconfigs",
    "FocusConfig": "/apis/finops.krateo.io/v1/namespaces/{ns}/focusconfigs",
}


@dataclass
class Operator:
    log: Path
    token: str


@pytest.fixture(scope="module")
def operator(kube_api_module: KubeApiEmulator,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    """``focusflow operator`` running against the emulator as its own API user."""
    tmp = tmp_path_factory.mktemp("operator")
    kubeconfig = tmp / "kubeconfig"
    token = kube_api_module.add_user("operator")
    kubeconfig.write_text(kube_api_module.kubeconfig(token))
    log = tmp / "operator.log"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig),
           "FOCUSFLOW_OPERATOR_RESYNC_SECONDS": "3600", "HOME": str(tmp)}
    focusflow = Path(sys.executable).parent / "focusflow"
    with log.open("wb") as out:
        process = subprocess.Popen([str(focusflow), "operator", "--log-level", "DEBUG"],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield Operator(log, token)
    finally:
        stop(process)


class Kubectl:
    """What kubectl would send: JSON over HTTP with the kubeconfig's token."""

    def __init__(self, api: KubeApiEmulator) -> None:
        self.api = api
        self.http = httpx.Client(base_url=api.url, timeout=10,
                                 headers={"Authorization": f"Bearer {api.token}"})

    def create(self, doc: dict[str, Any], namespace: str = "") -> httpx.Response:
        return self.http.post(PATHS[doc["kind"]].format(ns=namespace), json=doc)

    def patch(self, kind: str, namespace: str, name: str, body: dict[str, Any]) -> None:
        url = PATHS[kind].format(ns=namespace) + f"/{name}"
        response = self.http.patch(url, json=body,
                                   headers={"Content-Type": "application/merge-patch+json"})
        response.raise_for_status()

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self.http.delete(PATHS[kind].format(ns=namespace) + f"/{name}").raise_for_status()


@pytest.fixture
def kubectl(kube_api_module: KubeApiEmulator, operator: Operator) -> Iterator[Kubectl]:
    client = Kubectl(kube_api_module)
    yield client
    client.http.close()


def pipeline_docs(namespace: str, name: str = "azure-focus") -> list[dict[str, Any]]:
    docs = [load(t) for t in (PASSWORD_SECRET, ENDPOINT_SECRET, DATABASE, AZURE_FOCUS)]
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
        for ref in _refs(doc):
            ref["namespace"] = namespace
    docs[-1]["metadata"]["name"] = name
    return docs


def _refs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec") or {}
    out = [spec.get("passwordSecretRef")]
    out += [(spec.get("exporterConfig") or {}).get("api", {}).get("endpointRef"),
            (spec.get("scraperConfig") or {}).get("scraperDatabaseConfigRef")]
    return [r for r in out if r]


def apply_pipeline(kubectl: Kubectl, namespace: str, name: str = "azure-focus") -> None:
    assert kubectl.create({"kind": "Namespace", "metadata": {"name": namespace}}).status_code \
        == 201
    for doc in pipeline_docs(namespace, name):
        # The Krateo example carries a status block: it applies unchanged.
        response = kubectl.create(doc, namespace)
        assert response.status_code == 201, response.text


def ready(api: KubeApiEmulator, kind: str, namespace: str, name: str,
          status: str = "True") -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        obj = api.find(kind, namespace, name)
        conditions = ((obj or {}).get("status") or {}).get("conditions") or []
        ok = any(c["type"] == "Ready" and c["status"] == status for c in conditions)
        return obj if ok else None
    return check


def owned(api: KubeApiEmulator, namespace: str) -> list[dict[str, Any]]:
    return [o for o in api.all_in(namespace) if o["metadata"].get("ownerReferences")]


def wait_pipeline_ready(api: KubeApiEmulator, namespace: str, name: str) -> None:
    api.wait_for(ready(api, "ExporterScraperConfig", namespace, name))
    scraper = api.find("ExporterScraperConfig", namespace, name)["status"]["scraperConfig"]
    api.wait_for(ready(api, "ScraperConfig", namespace, scraper["name"]))


@pytest.mark.parametrize("name", ["azure-focus", "a" * 60], ids=["krateo-name", "60-chars"])
def test_krateo_pipeline_yields_exactly_its_children(kube_api_module: KubeApiEmulator,
                                                      kubectl: Kubectl, name: str) -> None:
    api, ns = kube_api_module, f"tree-{len(name)}"
    apply_pipeline(kubectl, ns, name)
    wait_pipeline_ready(api, ns, name)
    children = owned(api, ns)
    by_owner: dict[str, list[str]] = {}
    for child in children:
        (ref,) = child["metadata"]["ownerReferences"]
        assert ref["controller"] is True
        by_owner.setdefault(ref["kind"], []).append(child["kind"])
        assert is_dns_label(child["metadata"]["name"])
    assert sorted(by_owner["ExporterScraperConfig"]) == [
        "ConfigMap", "Deployment", "NetworkPolicy", "ScraperConfig", "Secret", "Service",
        "ServiceAccount"]
    assert sorted(by_owner["ScraperConfig"]) == ["ConfigMap", "Deployment", "ServiceAccount"]
    (service,) = [c for c in children if c["kind"] == "Service"]
    assert service["spec"]["type"] == "ClusterIP"
    status = api.find("ExporterScraperConfig", ns, name)["status"]
    assert status["services"]["name"] == service["metadata"]["name"]


def test_rendered_tree_matches_what_the_handlers_applied(kube_api_module: KubeApiEmulator,
                                                         kubectl: Kubectl) -> None:
    api, ns = kube_api_module, "render-match"
    apply_pipeline(kubectl, ns)
    wait_pipeline_ready(api, ns, "azure-focus")
    # The same input the handlers saw: the objects as the API stored them (with defaults).
    stored = [api.find("DatabaseConfig", ns, "finops-database-handler"),
              api.find("ExporterScraperConfig", ns, "azure-focus")]
    rendered = render_tree([o for o in stored if o], OperatorSettings())
    applied = {(o["kind"], o["metadata"]["name"]): o for o in owned(api, ns)}
    assert {(o["kind"], o["metadata"]["name"]) for o in rendered} == set(applied)
    for obj in rendered:
        live = applied[(obj["kind"], obj["metadata"]["name"])]
        expected = _with_uid(redact(obj), live["metadata"]["ownerReferences"][0]["uid"])
        if obj["kind"] == "Secret":
            # Server-side apply stores stringData as it came; the operator never reads it back.
            expected = {k: v for k, v in expected.items() if k != "stringData"}
        assert _subset(expected, live), obj["kind"]


def _with_uid(obj: dict[str, Any], uid: str) -> dict[str, Any]:
    meta = dict(obj["metadata"])
    meta["ownerReferences"] = [{**r, "uid": uid} if r["uid"] == PLACEHOLDER_UID else r
                               for r in meta["ownerReferences"]]
    return {**obj, "metadata": meta}


def _subset(desired: Any, actual: Any) -> bool:
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(actual, list) and len(desired) == len(actual) and all(
            _subset(d, a) for d, a in zip(desired, actual, strict=True))
    return bool(desired == actual)


def test_deleted_and_edited_children_are_repaired(kube_api_module: KubeApiEmulator,
                                                  kubectl: Kubectl) -> None:
    api, ns = kube_api_module, "drift"
    apply_pipeline(kubectl, ns)
    wait_pipeline_ready(api, ns, "azure-focus")
    original = api.find("Deployment", ns, "azure-focus-deployment")
    kubectl.delete("Deployment", ns, "azure-focus-deployment")
    recreated = api.wait_for(lambda: (d := api.find("Deployment", ns, "azure-focus-deployment"))
                             and d["metadata"]["uid"] != original["metadata"]["uid"] and d)
    image = original["spec"]["template"]["spec"]["containers"][0]["image"]
    assert recreated["spec"]["template"]["spec"]["containers"][0]["image"] == image

    containers = recreated["spec"]["template"]["spec"]["containers"]
    tampered = [{**containers[0], "image": "evil.example/miner:1"}]
    kubectl.patch("Deployment", ns, "azure-focus-deployment",
                  {"spec": {"template": {"spec": {"containers": tampered}}}})
    api.wait_for(lambda: (d := api.find("Deployment", ns, "azure-focus-deployment"))
                 and d["spec"]["template"]["spec"]["containers"][0]["image"] == image)


def test_polling_interval_change_updates_config_and_rolls_once(
        kube_api_module: KubeApiEmulator, kubectl: Kubectl) -> None:
    api, ns = kube_api_module, "rollout"
    apply_pipeline(kubectl, ns)
    wait_pipeline_ready(api, ns, "azure-focus")
    scraper_before = api.find("Deployment", ns, "azure-focus-scraper-deployment")
    token_before = api.find("Secret", ns, "azure-focus-endpoint")["stringData"]["token"]
    kubectl.patch("ExporterScraperConfig", ns, "azure-focus",
                  {"spec": {"exporterConfig": {"pollingInterval": "30m"}}})
    api.wait_for(lambda: (o := api.find("ExporterScraperConfig", ns, "azure-focus"))
                 and o["status"].get("observedGeneration") == 2)
    config = api.find("ConfigMap", ns, "azure-focus-configmap")["data"]["config.yaml"]
    assert "pollingInterval: 30m" in config
    deployment = api.find("Deployment", ns, "azure-focus-deployment")
    history = api.history[("Deployment", ns, "azure-focus-deployment")]
    hashes = [h["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH] for h in history]
    # Exactly one rollout: one template change, the generation moved by one.
    assert len(set(hashes)) == 2 and deployment["metadata"]["generation"] == 2
    scraper_after = api.find("Deployment", ns, "azure-focus-scraper-deployment")
    assert scraper_after["metadata"]["resourceVersion"] == \
        scraper_before["metadata"]["resourceVersion"]
    # The CR changed: its /rows token is replaced (both pods re-read the mounted key).
    token_after = api.find("Secret", ns, "azure-focus-endpoint")["stringData"]["token"]
    assert token_after != token_before and len(token_after) >= 40


def test_deleting_the_cr_removes_every_child(kube_api_module: KubeApiEmulator,
                                             kubectl: Kubectl) -> None:
    api, ns = kube_api_module, "cleanup"
    apply_pipeline(kubectl, ns)
    wait_pipeline_ready(api, ns, "azure-focus")
    assert len(owned(api, ns)) == 10
    kubectl.delete("ExporterScraperConfig", ns, "azure-focus")
    api.wait_for(lambda: not owned(api, ns))
    assert api.find("ScraperConfig", ns, "azure-focus-scraper") is None


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s["exporterConfig"].update(metricType="money"), "metricType"),
    (lambda s: s["scraperConfig"].pop("tableName"), "tableName"),
])
def test_schema_rejects_invalid_crs(kube_api_module: KubeApiEmulator, kubectl: Kubectl,
                                    change: Any, message: str) -> None:
    ns = "schema"
    kubectl.create({"kind": "Namespace", "metadata": {"name": ns}})
    doc = pipeline_docs(ns)[-1]
    change(doc["spec"])
    response = kubectl.create(doc, ns)
    assert response.status_code == 422
    assert message in response.json()["message"]


def test_invalid_duration_is_reported_and_operator_keeps_serving(
        kube_api_module: KubeApiEmulator, kubectl: Kubectl) -> None:
    api, ns = kube_api_module, "invalid"
    assert kubectl.create({"kind": "Namespace", "metadata": {"name": ns}}).status_code == 201
    docs = pipeline_docs(ns)
    for doc in docs[:3]:
        kubectl.create(doc, ns)
    bad = docs[3]
    bad["metadata"]["name"] = "hourly"
    bad["spec"]["exporterConfig"]["pollingInterval"] = "1 hour"
    assert kubectl.create(bad, ns).status_code == 201  # the schema's duration format allows it
    failed = api.wait_for(ready(api, "ExporterScraperConfig", ns, "hourly", status="False"))
    (condition,) = failed["status"]["conditions"]
    assert condition["reason"] == "InvalidSpec"
    assert "spec.exporterConfig.pollingInterval" in condition["message"]
    assert "1 hour" in condition["message"]
    api.wait_for(lambda: any(e.get("reason") == "InvalidSpec" and e["type"] == "Warning"
                             and e["involvedObject"]["name"] == "hourly"
                             for e in api.list(api.by_kind("Event"), ns)))
    assert not owned(api, ns)

    good = pipeline_docs(ns)[3]
    kubectl.create(good, ns)
    wait_pipeline_ready(api, ns, "azure-focus")

    # Fixing the spec is handled like any change: the CR becomes Ready with its children.
    kubectl.patch("ExporterScraperConfig", ns, "hourly",
                  {"spec": {"exporterConfig": {"pollingInterval": "1h"}}})
    wait_pipeline_ready(api, ns, "hourly")


def test_prometheus_export_becomes_a_cronjob(kube_api_module: KubeApiEmulator,
                                             kubectl: Kubectl) -> None:
    api, ns = kube_api_module, "monitoring"
    kubectl.create({"kind": "Namespace", "metadata": {"name": ns}})
    doc = {"apiVersion": "focusflow.dev/v1alpha1", "kind": "PrometheusExport",
           "metadata": {"name": "prod", "namespace": ns},
           "spec": {"clusterName": "prod", "s3Bucket": "metrics",
                    "prometheusUrl": "http://prometheus.monitoring.svc:9090",
                    # As Finout's docs write BACKFILL_DAYS (issue 13: was refused).
                    "backfillDays": "3d", "initialBackfillDate": "2025-10-01",
                    "auth": {"bearerTokenSecretRef": {"name": "prom", "key": "token"}}}}
    assert kubectl.create(doc, ns).status_code == 201
    api.wait_for(ready(api, "PrometheusExport", ns, "prod"))
    cronjob = api.find("CronJob", ns, "prod-export")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    env = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "PROMETHEUS_BEARER_AUTH_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "prom", "key": "token"}}} in env
    assert {"name": "BACKFILL_DAYS", "value": "3d"} in env
    assert {"name": "INITIAL_BACKFILL_DATE", "value": "2025-10-01"} in env


def test_no_secret_value_outside_secrets_or_in_the_log(kube_api_module: KubeApiEmulator,
                                                        kubectl: Kubectl,
                                                        operator: Operator) -> None:
    api, ns = kube_api_module, "secrets"
    apply_pipeline(kubectl, ns)
    wait_pipeline_ready(api, ns, "azure-focus")
    for obj in api.all_in(ns):
        if obj["kind"] == "Secret":
            continue
        text = repr(obj)
        assert not any(value in text for value in SECRET_VALUES), obj["kind"]
    log = operator.log.read_text()
    assert "azure-focus" in log  # the log is real and names the objects
    assert not any(value in log for value in SECRET_VALUES)
    rows_token = api.find("Secret", ns, "azure-focus-endpoint")["stringData"]["token"]
    assert rows_token not in log
    assert not any(rows_token in repr(o) for o in api.all_in(ns) if o["kind"] != "Secret")
    assert operator.token not in log


def test_database_config_change_reaches_the_scraper(kube_api_module: KubeApiEmulator,
                                                    kubectl: Kubectl) -> None:
    api, ns = kube_api_module, "dbchange"
    apply_pipeline(kubectl, ns)
    wait_pipeline_ready(api, ns, "azure-focus")
    kubectl.patch("DatabaseConfig", ns, "finops-database-handler",
                  {"spec": {"username": "analyst"}})
    api.wait_for(lambda: "username: analyst" in api.find(
        "ConfigMap", ns, "azure-focus-scraper-configmap")["data"]["config.yaml"])
    api.wait_for(lambda: api.find("Deployment", ns, "azure-focus-scraper-deployment")[
        "metadata"]["generation"] == 2)


def test_edited_child_scraper_config_is_reverted(kube_api_module: KubeApiEmulator,
                                                 kubectl: Kubectl) -> None:
    api, ns = kube_api_module, "scraper-drift"
    apply_pipeline(kubectl, ns)
    wait_pipeline_ready(api, ns, "azure-focus")
    kubectl.patch("ScraperConfig", ns, "azure-focus-scraper", {"spec": {"tableName": "other"}})
    api.wait_for(lambda: api.find("ScraperConfig", ns, "azure-focus-scraper")["spec"][
        "tableName"] == "finops")


def test_missing_database_config_is_a_condition_until_it_appears(
        kube_api_module: KubeApiEmulator, kubectl: Kubectl) -> None:
    api, ns = kube_api_module, "late-db"
    kubectl.create({"kind": "Namespace", "metadata": {"name": ns}})
    secret, endpoint, database, esc = pipeline_docs(ns)
    for doc in (secret, endpoint, esc):
        assert kubectl.create(doc, ns).status_code == 201
    waiting = api.wait_for(ready(api, "ScraperConfig", ns, "azure-focus-scraper", "False"))
    (condition,) = waiting["status"]["conditions"]
    assert "DatabaseConfig late-db/finops-database-handler not found" in condition["message"]
    assert kubectl.create(database, ns).status_code == 201
    api.wait_for(ready(api, "ScraperConfig", ns, "azure-focus-scraper"))
    assert api.find("Deployment", ns, "azure-focus-scraper-deployment") is not None


def _group_rows(api: KubeApiEmulator, namespace: str, esc_name: str) -> set[str]:
    """What the generated exporter reads (its own ``api`` request, as the exporter's HttpSource
    sends it), rendered with Krateo's rules (spaces removed)."""
    esc = api.find("ExporterScraperConfig", namespace, esc_name)
    assert esc is not None
    api_config = ApiConfig.parse(esc["spec"]["exporterConfig"]["api"], where="test")
    endpoint = Endpoint(server_url=api.url, token=SecretStr(api.token))
    fetched = HttpSource(api_config, lambda ref: endpoint).fetch()
    return {krateo_series(item) for item in orjson.loads(fetched.body or b"")["items"]}


def test_focusconfigs_of_krateos_e2e_become_its_exporters(kube_api_module: KubeApiEmulator,
                                                         kubectl: Kubectl) -> None:
    """Krateo's operator-focus e2e, step by step: groups, names, rows, edits and deletes."""
    api, ns = kube_api_module, "finops-test"
    assert kubectl.create({"kind": "Namespace", "metadata": {"name": ns}}).status_code == 201
    for doc in docs(FOCUS_E2E_1):
        response = kubectl.create(doc, ns)
        assert response.status_code == 201, response.text
    # One ExporterScraperConfig per group, with Krateo's names; each then gets its pipeline.
    api.wait_for(ready(api, "ExporterScraperConfig", ns, "focus-export-exporter"))
    api.wait_for(ready(api, "ExporterScraperConfig", ns, "all-cr-exporter"))
    assert api.find("Deployment", ns, "focus-export-exporter-deployment") is not None
    key = "finops-test..finops-database-handler..focus_export"

    def keys() -> dict[str, str]:
        return {f"focusconfig-sample{i}": ((api.find("FocusConfig", ns, f"focusconfig-sample{i}")
                                            or {}).get("status") or {}).get("groupKey", "")
                for i in (1, 2, 3)}

    api.wait_for(lambda: keys() == {"focusconfig-sample1": key, "focusconfig-sample2": key,
                                    "focusconfig-sample3": "...."})
    # The exporter's rows are exactly the series Krateo's e2e expects.
    assert _group_rows(api, ns, "focus-export-exporter") == \
        expected_series("e2e_expected_metrics.txt")
    # An edit shows in the rows; a delete removes the row (Krateo's ValueAfterDelete).
    kubectl.patch("FocusConfig", ns, "focusconfig-sample2",
                  {"spec": {"focusSpec": {"billedCost": "31000"}}})
    assert any('BilledCost="31000"' in r for r in _group_rows(api, ns, "focus-export-exporter"))
    kubectl.delete("FocusConfig", ns, "focusconfig-sample2")
    rows = _group_rows(api, ns, "focus-export-exporter")
    assert rows == expected_series("e2e_expected_after_delete.txt")
    assert not rows & expected_series("e2e_deleted_series.txt")
    api.wait_for(lambda: [o["name"] for o in (api.find("ExporterScraperConfig", ns,
                 "focus-export-exporter") or {}).get("metadata", {}).get("ownerReferences", [])]
                 == ["focusconfig-sample1"])
    # Deleted by hand while its group has members: made again.
    old_uid = api.find("ExporterScraperConfig", ns, "all-cr-exporter")["metadata"]["uid"]
    kubectl.delete("ExporterScraperConfig", ns, "all-cr-exporter")
    api.wait_for(lambda: (api.find("ExporterScraperConfig", ns, "all-cr-exporter") or {})
                 .get("metadata", {}).get("uid", old_uid) != old_uid)
    # The group's ExporterScraperConfig, and its whole pipeline, go with its last member.
    kubectl.delete("FocusConfig", ns, "focusconfig-sample1")
    api.wait_for(lambda: api.find("ExporterScraperConfig", ns, "focus-export-exporter") is None)
    api.wait_for(lambda: api.find("Deployment", ns, "focus-export-exporter-deployment") is None)
    assert api.find("ExporterScraperConfig", ns, "all-cr-exporter") is not None


def test_a_new_focusconfig_joins_or_makes_a_group(kube_api_module: KubeApiEmulator,
                                                  kubectl: Kubectl) -> None:
    api, ns = kube_api_module, "focus-groups"
    assert kubectl.create({"kind": "Namespace", "metadata": {"name": ns}}).status_code == 201
    for doc in docs(FOCUS_E2E_2):
        doc["metadata"]["namespace"] = ns  # as Krateo's e2e does (decoder.MutateNamespace)
        assert kubectl.create(doc, ns).status_code == 201
    for name in ("focus-export-1-exporter", "focus-export-2-exporter"):
        api.wait_for(ready(api, "ExporterScraperConfig", ns, name))
    (sample,) = docs(FOCUS_E2E_2)[:1]
    sample["metadata"].update(name="late-joiner", namespace=ns)
    assert kubectl.create(sample, ns).status_code == 201
    api.wait_for(lambda: len((api.find("ExporterScraperConfig", ns, "focus-export-1-exporter")
                              or {}).get("metadata", {}).get("ownerReferences", [])) == 2)
    assert len(_group_rows(api, ns, "focus-export-1-exporter")) == 1  # identical rows, one series


def _rbac_request(method: str, path: str) -> tuple[str, str, str] | None:
    """(apiGroup, resource[/subresource], verb) of a request; None for discovery URLs."""
    url = urlsplit(path)
    parts = url.path.strip("/").split("/")
    if parts[0] == "api" and len(parts) > 2:
        group, rest = "", parts[2:]
    elif parts[0] == "apis" and len(parts) > 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    query = parse_qs(url.query)
    verb = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}.get(method)
    if verb is None:
        verb = "watch" if query.get("watch") == ["true"] else "get" if len(rest) > 1 else "list"
    return group, resource, verb


def test_generated_exporter_serves_krateos_expected_series(kube_api_module: KubeApiEmulator,
                                                           kubectl: Kubectl) -> None:
    """The exporter of a generated group, configured from the ConfigMap the operator rendered
    and reading the emulated API as its pod would: its /metrics series are exactly those
    Krateo's operator-focus e2e test expects (labels, numbers, UTC dates, Tags)."""
    api, ns = kube_api_module, "focus-exporter"
    assert kubectl.create({"kind": "Namespace", "metadata": {"name": ns}}).status_code == 201
    for doc in docs(FOCUS_E2E_1)[:2]:
        doc["metadata"]["namespace"] = ns
        assert kubectl.create(doc, ns).status_code == 201
    api.wait_for(ready(api, "ExporterScraperConfig", ns, "focus-export-exporter"))
    api.wait_for(lambda: all(((api.find("FocusConfig", ns, f"focusconfig-sample{i}") or {})
                              .get("status") or {}).get("groupKey") for i in (1, 2)))
    config_map = api.find("ConfigMap", ns, "focus-export-exporter-configmap")
    assert config_map is not None
    cr = yaml.safe_load(config_map["data"]["config.yaml"])
    config = ExporterConfig.parse(cr["spec"]["exporterConfig"], where="test")
    endpoint = Endpoint(server_url=api.url, token=SecretStr(api.token))
    source = build_source(config, lambda ref: endpoint)

    def series() -> set[str]:
        text = render(decode(source.fetch(), config), config).text.decode()
        return {line.replace(" ", "") for line in text.splitlines()
                if line.startswith("billed_cost")}

    assert series() == expected_series("e2e_expected_metrics.txt")
    # Krateo's ValueAfterDelete, through the exporter too.
    kubectl.delete("FocusConfig", ns, "focusconfig-sample2")
    assert series() == expected_series("e2e_expected_after_delete.txt")


def test_escs_krateos_operator_focus_left_behind_are_served_and_adopted(
        kube_api_module: KubeApiEmulator, kubectl: Kubectl) -> None:
    """Migration: the ExporterScraperConfigs Krateo's operator-focus generated are in the
    cluster already (empty scraperConfig.metricType, an exporter-only group with a zero
    scraperConfig and 0s). They run as they are; the FocusConfigs' groups then adopt them."""
    api, ns = kube_api_module, "finops-migrate"
    assert kubectl.create({"kind": "Namespace", "metadata": {"name": ns}}).status_code == 201
    for esc in docs(GENERATED_ESCS):
        esc["metadata"]["namespace"] = ns
        response = kubectl.create(esc, ns)
        assert response.status_code == 201, response.text
    for name in ("all-cr-exporter", "focus-export-exporter", "focus-export-1-exporter"):
        api.wait_for(ready(api, "ExporterScraperConfig", ns, name))
    assert api.find("ScraperConfig", ns, "all-cr-exporter-scraper") is None  # exporter only
    scraper = api.find("ScraperConfig", ns, "focus-export-exporter-scraper")
    assert scraper is not None and scraper["spec"]["metricType"] == "cost"
    for doc in docs(FOCUS_E2E_1):
        doc["metadata"]["namespace"] = ns
        assert kubectl.create(doc, ns).status_code == 201

    def adopted() -> bool:
        esc = api.find("ExporterScraperConfig", ns, "focus-export-exporter") or {}
        owners = [o["name"] for o in esc.get("metadata", {}).get("ownerReferences", [])]
        path = esc.get("spec", {}).get("exporterConfig", {}).get("api", {}).get("path", "")
        return owners == ["focusconfig-sample1", "focusconfig-sample2"] and \
            f"/namespaces/{ns}/" in path

    api.wait_for(adopted)
    api.wait_for(ready(api, "ExporterScraperConfig", ns, "focus-export-exporter"))


def test_secret_of_another_namespace_is_copied_by_the_running_operator(
        kube_api_module: KubeApiEmulator, kubectl: Kubectl) -> None:
    """Krateo's README example: the endpoint Secret in prom-system, the CR in krateo-xns. The
    admin bound focusflow-operator-secret-reader in prom-system only (SECRET_READER_BOUND)."""
    api = kube_api_module
    for ns in ("krateo-xns", *SECRET_READER_BOUND):
        assert kubectl.create({"kind": "Namespace", "metadata": {"name": ns}}).status_code == 201
    esc, secret = docs(KRATEO / "operator-exporter_readme_generic_prometheus.yaml")
    secret["data"] = {"server-url": base64.b64encode(b"http://prom.example:9090").decode()}
    del secret["stringData"]
    assert kubectl.create(secret, "prom-system").status_code == 201
    esc["metadata"]["namespace"] = "krateo-xns"
    esc["spec"]["scraperConfig"]["scraperDatabaseConfigRef"]["namespace"] = "krateo-xns"
    assert kubectl.create(esc, "krateo-xns").status_code == 201
    api.wait_for(ready(api, "ExporterScraperConfig", "krateo-xns", esc["metadata"]["name"]))
    (copy_,) = [o for o in api.all_in("krateo-xns") if o["kind"] == "Secret"
                and "focusflow.dev/copy-of" in o["metadata"].get("annotations", {})]
    assert copy_["data"] == secret["data"]
    assert copy_["metadata"]["ownerReferences"][0]["name"] == esc["metadata"]["name"]


SECRET_READER_BOUND = ("prom-system",)


def test_operator_uses_only_what_its_cluster_role_grants(kube_api_module: KubeApiEmulator,
                                                         operator: Operator) -> None:
    # Runs last in this module: every scenario above has exercised the operator by now.
    rbac = list(yaml.safe_load_all((ROOT / "deploy" / "rbac.yaml").read_text()))
    (role,) = [d for d in rbac if d["kind"] == "ClusterRole"
               and d["metadata"]["name"] == "focusflow-operator"]
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"]
               for r in rule["resources"] for v in rule["verbs"]}
    (reader,) = [d for d in rbac if d["kind"] == "ClusterRole"
                 and d["metadata"]["name"] == "focusflow-operator-secret-reader"]
    read = {(g, r, v) for rule in reader["rules"] for g in rule["apiGroups"]
            for r in rule["resources"] for v in rule["verbs"]}
    used, used_by_reader = set(), set()
    for user, method, path in kube_api_module.requests:
        req = _rbac_request(method, path) if user == "operator" else None
        if req is None:
            continue
        namespace = path.split("/namespaces/")[1].split("/")[0] if "/namespaces/" in path \
            else ""
        if req in read and req not in granted:
            # Only where the admin bound the reader role (a RoleBinding in that namespace).
            assert namespace in SECRET_READER_BOUND, path
            used_by_reader.add(req)
        else:
            used.add(req)
    assert used, "the operator made no requests"
    assert used <= granted, sorted(used - granted)
    assert used_by_reader <= {("", "secrets", "get")}
    assert {v for g, r, v in used if r == "secrets"} <= {"create", "patch"}
