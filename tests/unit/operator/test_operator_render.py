"""Render functions: the tree for the Krateo examples, validated with kubernetes-validate 1.30."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from emulators import crd_schema
from fixtures.krateo_examples import (
    AZURE_FOCUS,
    DATABASE,
    ENDPOINT_SECRET,
    PASSWORD_SECRET,
    SECRET_VALUES,
    load,
)
from fixtures.kube_api import load_crds
from focusflow.cli import app, main
from focusflow.errors import ConfigError
from focusflow.operator import OperatorSettings, render_tree
from focusflow.operator.names import is_dns_label
from focusflow.operator.pipeline import CONFIG_HASH
from focusflow.operator.render import load_manifests, render_files

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "deploy" / "examples").glob("*.yaml"))
SETTINGS = OperatorSettings()
CRDS = {(c["spec"]["group"], c["spec"]["names"]["kind"]): c for c in load_crds()}


def krateo_docs() -> list[dict[str, Any]]:
    return [load(t) for t in (PASSWORD_SECRET, ENDPOINT_SECRET, DATABASE, AZURE_FOCUS)]


def validate(obj: dict[str, Any]) -> None:
    """kubernetes-validate (1.30, strict) for built-in kinds; the CRD schema for ours."""
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    crd = CRDS.get((group, obj["kind"]))
    if crd is not None:
        crd_schema.admit(crd, obj["apiVersion"].split("/")[1], copy.deepcopy(obj))
    else:
        kubernetes_validate.validate(obj, "1.30.0", strict=True)


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_krateo_exporter_scraper_config_tree() -> None:
    objects = render_tree(krateo_docs(), SETTINGS)
    esc_children = [o for o in objects
                    if o["metadata"]["ownerReferences"][0]["kind"] == "ExporterScraperConfig"]
    sc_children = [o for o in objects
                   if o["metadata"]["ownerReferences"][0]["kind"] == "ScraperConfig"]
    assert sorted(o["kind"] for o in esc_children) == [
        "ConfigMap", "Deployment", "NetworkPolicy", "ScraperConfig", "Secret", "Service",
        "ServiceAccount"]
    assert sorted(o["kind"] for o in sc_children) == ["ConfigMap", "Deployment", "ServiceAccount"]
    for obj in objects:
        validate(obj)
        name = obj["metadata"]["name"]
        assert is_dns_label(name), name
        (ref,) = obj["metadata"]["ownerReferences"]
        assert ref["controller"] is True and ref["blockOwnerDeletion"] is True


def test_service_is_cluster_ip_and_scraper_uses_its_dns_name() -> None:
    objects = render_tree(krateo_docs(), SETTINGS)
    (service,) = by_kind(objects, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"][0]["port"] == 2112
    (endpoint,) = by_kind(objects, "Secret")
    assert endpoint["stringData"]["server-url"] == \
        "http://azure-focus-service.krateo-system.svc:2112"
    assert sorted(endpoint["stringData"]) == ["server-url", "token"]
    (scraper,) = by_kind(objects, "ScraperConfig")
    assert scraper["metadata"]["name"] == "azure-focus-scraper"
    assert scraper["spec"]["api"]["endpointRef"] == {
        "name": endpoint["metadata"]["name"], "namespace": "krateo-system"}
    assert scraper["spec"]["metricType"] == "cost"
    assert scraper["spec"]["scraperDatabaseConfigRef"]["name"] == "finops-database-handler"


def test_pods_are_locked_down_and_run_the_contracted_commands() -> None:
    objects = render_tree(krateo_docs(), SETTINGS)
    exporter, scraper = by_kind(objects, "Deployment")
    for deployment, command, port in ((exporter, "exporter", 2112), (scraper, "scraper", 8080)):
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"][:5] == [command, "--config", "/etc/focusflow/config.yaml",
                                         "--secrets-dir", "/var/run/secrets/focusflow"]
        assert container["args"][5:7] == ["--listen", f"0.0.0.0:{port}"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        security = container["securityContext"]
        assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
        assert security["allowPrivilegeEscalation"] is False
        assert pod["automountServiceAccountToken"] is False
        assert "resources" in container and ":" in container["image"]
    exporter_mounts = {m["mountPath"] for m in
                       exporter["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert "/var/run/secrets/focusflow/krateo-system/azure-storage-account" in exporter_mounts
    scraper_pod = scraper["spec"]["template"]["spec"]
    secret_volumes = {v["secret"]["secretName"]: v["secret"].get("items")
                      for v in scraper_pod["volumes"] if "secret" in v}
    # Only the Secrets the config names: the endpoint Secret and the DB password key.
    assert secret_volumes == {
        "azure-focus-endpoint": None,
        "user-system-cratedb-cluster": [{"key": "password", "path": "password"}]}
    (env,) = scraper_pod["containers"][0]["env"]
    assert env == {"name": "FOCUSFLOW_DATABASE_URL", "valueFrom": {
        "secretKeyRef": {"name": "focusflow-database", "key": "url"}}}


def test_scraper_config_map_holds_scraper_and_database_config() -> None:
    objects = render_tree(krateo_docs(), SETTINGS)
    maps = by_kind(objects, "ConfigMap")
    exporter_doc = yaml.safe_load(maps[0]["data"]["config.yaml"])
    assert exporter_doc["kind"] == "ExporterScraperConfig"
    assert "status" not in exporter_doc
    assert exporter_doc["spec"]["exporterConfig"]["pollingInterval"] == "1h"
    scraper_docs = list(yaml.safe_load_all(maps[1]["data"]["config.yaml"]))
    assert [d["kind"] for d in scraper_docs] == ["ScraperConfig", "DatabaseConfig"]
    assert scraper_docs[1]["spec"]["username"] == "system"


def test_no_secret_value_anywhere_in_rendered_output() -> None:
    paths = [ROOT / "deploy/examples/krateo-azure-focus.yaml"]
    text = render_files(paths, SETTINGS)
    for doc in load_manifests(paths):
        if doc["kind"] == "Secret":
            for value in doc["stringData"].values():
                assert value not in text
    tree = render_tree(krateo_docs(), SETTINGS)
    dumped = json.dumps(tree)
    for value in SECRET_VALUES:
        assert value not in dumped
    assert "<redacted>" in text


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_renders_valid_manifests(path: Path) -> None:
    # The Krateo variants share the DatabaseConfig of krateo-azure-focus.yaml.
    shared = [d for d in load_manifests(EXAMPLES) if d["kind"] == "DatabaseConfig"]
    docs = load_manifests([path]) + shared
    objects = render_tree(docs, SETTINGS)
    assert objects
    for obj in objects:
        validate(obj)
        assert len(obj["metadata"]["name"]) <= 63
        if obj["kind"] == "Role":
            for rule in obj["rules"]:
                assert "secrets" not in rule["resources"] or rule.get("resourceNames")
        for container in _containers(obj):
            for env in container.get("env", []):
                # Credentials only by reference: literal values are settings, never secrets.
                assert not any(word in env["name"] for word in ("PASSWORD", "TOKEN", "SECRET")) \
                    or "valueFrom" in env, env


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return list((spec.get("template") or {}).get("spec", {}).get("containers", []))


def test_config_hash_changes_only_with_the_config() -> None:
    def deployment_hash(docs: list[dict[str, Any]]) -> str:
        dep = by_kind(render_tree(docs, SETTINGS), "Deployment")[0]
        return str(dep["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH])

    docs = krateo_docs()
    first = deployment_hash(docs)
    assert deployment_hash(krateo_docs()) == first
    docs[-1]["spec"]["exporterConfig"]["pollingInterval"] = "30m"
    assert deployment_hash(docs) != first


def test_sixty_character_name_gives_valid_children() -> None:
    docs = krateo_docs()
    docs[-1]["metadata"]["name"] = "a" * 60
    objects = render_tree(docs, SETTINGS)
    assert len(objects) == 10
    for obj in objects:
        assert is_dns_label(obj["metadata"]["name"]) and len(obj["metadata"]["name"]) <= 63
        for value in obj["metadata"]["labels"].values():
            assert len(value) <= 63
        validate(obj)


def test_prometheus_export_cronjob() -> None:
    (sa, cronjob) = render_tree(load_manifests([ROOT / "deploy/examples/prometheus-export.yaml"]),
                                SETTINGS)
    assert sa["kind"] == "ServiceAccount"
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["schedule"] == "15 * * * *"
    assert spec["startingDeadlineSeconds"] and spec["successfulJobsHistoryLimit"] == 3
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] and job["backoffLimit"] == 2
    (container,) = job["template"]["spec"]["containers"]
    assert container["args"] == ["k8s-export"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["CLUSTER_NAME"] == "prod-eu-1" and env["S3_BUCKET"] == "finout-k8s-metrics"
    assert env["HOSTNAME"] == "prometheus-prod-01-eu-west-0.grafana.net"
    assert env["PORT"] == "443" and env["PATH_PREFIX"] == "/api/prom"
    assert env["PROMETHEUS_X_SCOPE_ORGID"] == "123456"
    assert env["PROMETHEUS_PASSWORD"] == {
        "secretKeyRef": {"name": "mimir-basic-auth", "key": "password"}}
    assert env["PROMETHEUS_USERNAME"] == {
        "secretKeyRef": {"name": "mimir-basic-auth", "key": "username"}}


def test_prometheus_export_refuses_two_auth_modes() -> None:
    (doc,) = [d for d in load_manifests([ROOT / "deploy/examples/prometheus-export.yaml"])
              if d["kind"] == "PrometheusExport"]
    doc["spec"]["auth"]["tokenSecretRef"] = {"name": "t", "key": "token"}
    with pytest.raises(ConfigError, match=r"PrometheusExport monitoring/prod-eu-1: field spec"):
        render_tree([doc], SETTINGS)


@pytest.mark.parametrize(("patch", "field"), [
    ({"pollingInterval": "1 hour"}, "spec.exporterConfig.pollingInterval"),
    ({"metricType": "generic"}, "spec.exporterConfig"),
    ({"pollingInterval": "-5s"}, "spec.exporterConfig.pollingInterval"),
])
def test_invalid_spec_names_kind_name_and_field(patch: dict[str, Any], field: str) -> None:
    docs = krateo_docs()
    docs[-1]["spec"]["exporterConfig"].update(patch)
    with pytest.raises(ConfigError) as info:
        render_tree(docs, SETTINGS)
    assert f"ExporterScraperConfig krateo-system/azure-focus: field {field}" in str(info.value)


def test_cross_namespace_secret_is_copied_next_to_the_pod() -> None:
    docs = krateo_docs()
    docs[-1]["spec"]["exporterConfig"]["api"]["endpointRef"]["namespace"] = "elsewhere"
    docs[1]["metadata"]["namespace"] = "elsewhere"  # the endpoint Secret, now in elsewhere
    objects = render_tree(docs, SETTINGS)
    (copy_,) = [o for o in by_kind(objects, "Secret")
                if o["metadata"].get("annotations", {}).get("focusflow.dev/copy-of")]
    assert copy_["metadata"]["annotations"]["focusflow.dev/copy-of"] == \
        "elsewhere/azure-storage-account"
    assert copy_["metadata"]["namespace"] == "krateo-system"
    assert copy_["metadata"]["ownerReferences"][0]["kind"] == "ExporterScraperConfig"
    assert set(copy_["data"]) == set(docs[1]["stringData"])  # every key of an endpoint
    (exporter,) = [d for d in by_kind(objects, "Deployment")
                   if d["metadata"]["name"] == "azure-focus-deployment"]
    pod = exporter["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"]
                 if v.get("secret", {}).get("secretName") == copy_["metadata"]["name"]]
    assert "items" not in volume["secret"]  # every key of the endpoint
    # Mounted where the original would be: the exporter finds it under the reference it reads.
    assert any(m["mountPath"] == "/var/run/secrets/focusflow/elsewhere/azure-storage-account"
               for m in pod["containers"][0]["volumeMounts"])
    for obj in objects:
        validate(obj)


def test_cli_render_reads_a_directory() -> None:
    result = CliRunner().invoke(app, ["operator", "render", "-f", str(ROOT / "deploy/examples")])
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.stdout))
    assert {d["kind"] for d in docs} >= {"CronJob", "Deployment", "ScraperConfig", "Service"}
    for doc in docs:
        validate(doc)


def test_cli_render_prints_the_tree(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["operator", "render", "-f",
                                      str(ROOT / "deploy/examples/krateo-azure-focus.yaml")])
    assert result.exit_code == 0, result.output
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout)]
    assert kinds.count("Deployment") == 2 and kinds.count("ScraperConfig") == 1


def test_cli_render_invalid_cr_is_one_line_and_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(AZURE_FOCUS.replace('pollingInterval: "1h"\n    additional',
                                       'pollingInterval: "1 hour"\n    additional'))
    # The console-script entry point, in process: its error boundary is what users see.
    monkeypatch.setattr(sys, "argv", ["focusflow", "operator", "render", "-f", str(bad)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "ExporterScraperConfig krateo-system/azure-focus" in lines[0]
    assert "spec.exporterConfig.pollingInterval" in lines[0]
    assert out == ""


def test_exporter_without_endpoint_gets_a_token_and_a_focusconfig_only_role() -> None:
    docs = krateo_docs()
    del docs[-1]["spec"]["exporterConfig"]["api"]["endpointRef"]
    objects = render_tree(docs, SETTINGS)
    (role,) = by_kind(objects, "Role")
    assert role["rules"] == [{"apiGroups": ["finops.krateo.io"], "resources": ["focusconfigs"],
                              "verbs": ["get", "list"]}]
    (binding,) = by_kind(objects, "RoleBinding")
    assert binding["subjects"][0]["name"] == role["metadata"]["name"]
    exporter = by_kind(objects, "Deployment")[0]["spec"]["template"]["spec"]
    assert exporter["automountServiceAccountToken"] is True
    assert exporter["serviceAccountName"] == role["metadata"]["name"]
    for obj in objects:
        validate(obj)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("timeFrame", 7000, "divides 86400"),
    ("metrics", ["cpu_requests", "bogus"], "unknown metric(s) bogus"),
])
def test_prometheus_export_is_checked_with_the_job_settings(
        field: str, value: Any, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS", "also-bogus")  # the operator's own env must not leak in
    (doc,) = [d for d in load_manifests([ROOT / "deploy/examples/prometheus-export.yaml"])
              if d["kind"] == "PrometheusExport"]
    render_tree([copy.deepcopy(doc)], SETTINGS)  # valid as shipped, despite the env
    doc["spec"][field] = value
    with pytest.raises(ConfigError) as info:
        render_tree([doc], SETTINGS)
    assert f"PrometheusExport monitoring/prod-eu-1: field spec.{field}: " in str(info.value)
    assert message in str(info.value)


def test_focusflow_extensions_reach_the_programs() -> None:
    docs = krateo_docs()
    spec = docs[-1]["spec"]
    spec["exporterConfig"]["aggregateBy"] = ["ServiceName", "BillingCurrency"]
    spec["scraperConfig"]["sourceId"] = "azure-prod"
    stored = crd_schema.admit(CRDS[("finops.krateo.io", "ExporterScraperConfig")], "v1",
                              copy.deepcopy(docs[-1]))
    assert stored["spec"]["exporterConfig"]["aggregateBy"] == ["ServiceName", "BillingCurrency"]
    objects = render_tree([*docs[:-1], stored], SETTINGS)
    exporter_config = yaml.safe_load(by_kind(objects, "ConfigMap")[0]["data"]["config.yaml"])
    assert exporter_config["spec"]["exporterConfig"]["aggregateBy"] == [
        "ServiceName", "BillingCurrency"]
    (scraper,) = by_kind(objects, "ScraperConfig")
    assert scraper["spec"]["sourceId"] == "azure-prod"
    validate(scraper)


def test_scraper_config_with_exporter_url_needs_no_endpoint_secret() -> None:
    database = load(DATABASE)
    scraper = {"apiVersion": "finops.krateo.io/v1", "kind": "ScraperConfig",
               "metadata": {"name": "remote", "namespace": "krateo-system"},
               "spec": {"tableName": "focus", "pollingInterval": "5m",
                        "exporterUrl": "http://exporter.elsewhere.svc:2112",
                        "scraperDatabaseConfigRef": {"name": "finops-database-handler",
                                                     "namespace": "krateo-system"}}}
    objects = render_tree([database, scraper], SETTINGS)
    pod = by_kind(objects, "Deployment")[0]["spec"]["template"]["spec"]
    assert [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v] == [
        "user-system-cratedb-cluster"]
    del scraper["spec"]["exporterUrl"]
    with pytest.raises(ConfigError, match=r"spec\.api\.endpointRef"):
        render_tree([database, scraper], SETTINGS)


@pytest.mark.parametrize("days", ["3d", 3, "3"])
def test_prometheus_export_takes_backfill_days_as_finout_writes_them(days: Any) -> None:
    (doc,) = [d for d in load_manifests([ROOT / "deploy/examples/prometheus-export.yaml"])
              if d["kind"] == "PrometheusExport"]
    doc["spec"]["backfillDays"] = days
    doc["spec"]["initialBackfillDate"] = "2025-10-01"
    (_, cronjob) = render_tree([doc], SETTINGS)
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["BACKFILL_DAYS"] == str(days)
    assert env["INITIAL_BACKFILL_DATE"] == "2025-10-01"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("backfillDays", "3h", "expected a whole number of days: 3 or 3d"),
    ("initialBackfillDate", "2025-10-32", "expected a UTC date YYYY-MM-DD"),
])
def test_prometheus_export_refuses_other_forms_listing_the_accepted_ones(
        field: str, value: str, message: str) -> None:
    (doc,) = [d for d in load_manifests([ROOT / "deploy/examples/prometheus-export.yaml"])
              if d["kind"] == "PrometheusExport"]
    doc["spec"][field] = value
    with pytest.raises(ConfigError) as info:
        render_tree([doc], SETTINGS)
    assert f"PrometheusExport monitoring/prod-eu-1: field spec.{field}: {message}" \
        in str(info.value)
