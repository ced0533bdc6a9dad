"""deploy/: kustomize build, kubernetes-validate 1.30, least-privilege RBAC, Dockerfile lint."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from emulators import crd_schema
from fixtures.krateo_examples import AZURE_FOCUS, DATABASE, GENERIC, SCRAPER, load
from fixtures.kube_api import load_crds

ROOT = Path(__file__).resolve().parents[3]
CRDS = {c["spec"]["names"]["kind"]: c for c in load_crds()}


@pytest.fixture(scope="module")
def kustomized() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is missing: apt-get install kubernetes-client")
    out = subprocess.run([kubectl, "kustomize", str(ROOT / "deploy")], capture_output=True,
                         text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_kustomize_builds_the_whole_install(kustomized: list[dict[str, Any]]) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in kustomized)
    assert kinds == [
        ("ClusterRole", "focusflow-operator"),
        ("ClusterRole", "focusflow-operator-secret-reader"),
        ("ClusterRoleBinding", "focusflow-operator"),
        ("CustomResourceDefinition", "databaseconfigs.finops.krateo.io"),
        ("CustomResourceDefinition", "exporterscraperconfigs.finops.krateo.io"),
        ("CustomResourceDefinition", "focusconfigs.finops.krateo.io"),
        ("CustomResourceDefinition", "prometheusexports.focusflow.dev"),
        ("CustomResourceDefinition", "scraperconfigs.finops.krateo.io"),
        ("Deployment", "focusflow-operator"),
        ("Namespace", "focusflow-system"),
        ("ServiceAccount", "focusflow-operator"),
    ]


def test_every_installed_manifest_passes_kubernetes_validate(
        kustomized: list[dict[str, Any]]) -> None:
    for doc in kustomized:
        kubernetes_validate.validate(doc, "1.30.0", strict=True)


def test_operator_cluster_role_never_reads_secrets(kustomized: list[dict[str, Any]]) -> None:
    roles = {d["metadata"]["name"]: d for d in kustomized if d["kind"] == "ClusterRole"}
    role = roles["focusflow-operator"]
    # Reading Secrets (for cross-namespace copies) is a separate role, get only, never bound
    # cluster-wide: the admin binds it in the namespaces that need it.
    assert roles["focusflow-operator-secret-reader"]["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    bound = {d["roleRef"]["name"] for d in kustomized if d["kind"] == "ClusterRoleBinding"}
    assert bound == {"focusflow-operator"}
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
        if "secrets" in rule["resources"]:
            assert not {"get", "list", "watch"} & set(rule["verbs"]) or rule.get("resourceNames")
    assert not any("delete" in r["verbs"] for r in role["rules"])  # GC deletes children


def test_operator_pod_is_locked_down(kustomized: list[dict[str, Any]]) -> None:
    (deployment,) = [d for d in kustomized if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert re.search(r":\d+\.\d+\.\d+$", container["image"])


@pytest.mark.parametrize("text", [AZURE_FOCUS, GENERIC, SCRAPER, DATABASE],
                         ids=["azure-focus", "generic", "scraper", "database"])
def test_crds_accept_krateo_examples_unchanged(text: str) -> None:
    doc = load(text)
    stored = crd_schema.admit(CRDS[doc["kind"]], "v1", doc)
    assert stored["spec"] == {**doc["spec"], **_defaults(doc)}
    if "status" in doc:
        assert stored["status"] == doc["status"]


def _defaults(doc: dict[str, Any]) -> dict[str, Any]:
    # Only metricType defaults exist; the examples set it except the bare scraperConfig.
    spec = doc["spec"]
    if doc["kind"] == "ExporterScraperConfig" and "scraperConfig" in spec:
        return {"scraperConfig": {**spec["scraperConfig"], "metricType": "cost"}}
    return {}


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s["exporterConfig"].update(metricType="money"), "does not match"),
    (lambda s: s["exporterConfig"].update(metricType="costs"), "does not match"),
    (lambda s: s["exporterConfig"].pop("pollingInterval"), "'pollingInterval' is a required"),
    (lambda s: s["scraperConfig"].pop("tableName"), "'tableName' is a required"),
    (lambda s: s["exporterConfig"]["api"]["endpointRef"].pop("namespace"),
     "'namespace' is a required"),
])
def test_crd_rejects_invalid_exporter_scraper_configs(change: Any, message: str) -> None:
    doc = load(AZURE_FOCUS)
    change(doc["spec"])
    with pytest.raises(ValueError, match=message):
        crd_schema.admit(CRDS["ExporterScraperConfig"], "v1", doc)


@pytest.mark.parametrize("metric_type", ["cost", "Cost", "resource", "Resource", "generic",
                                         "Generic"])
def test_crd_metric_type_pattern_accepts_krateo_spellings(metric_type: str) -> None:
    doc = load(AZURE_FOCUS)
    doc["spec"]["exporterConfig"]["metricType"] = metric_type
    crd_schema.admit(CRDS["ExporterScraperConfig"], "v1", doc)


def test_crd_keeps_generic_on_scraper_config() -> None:
    doc = load(SCRAPER)
    doc["spec"]["generic"] = {"metricName": "cpu", "valueColumnIndex": 4}
    stored = crd_schema.admit(CRDS["ScraperConfig"], "v1", doc)
    assert stored["spec"]["generic"] == {"metricName": "cpu", "valueColumnIndex": 4}


def test_crd_accepts_a_duration_only_the_operator_refuses() -> None:
    # The API server's `duration` format accepts "1 hour"; the operator reports it in status.
    doc = load(AZURE_FOCUS)
    doc["spec"]["exporterConfig"]["pollingInterval"] = "1 hour"
    crd_schema.admit(CRDS["ExporterScraperConfig"], "v1", doc)


def test_grafana_dashboard_queries_exporter_metrics() -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/focusflow-exporter.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs and all("focusflow_" in e or "billed_cost" in e for e in exprs)
    assert dashboard["uid"] and dashboard["title"]


def test_dockerfile_lints_clean_and_follows_policy() -> None:
    dockerfile = ROOT / "Dockerfile"
    hadolint = Path(sys.executable).parent / "hadolint"
    proc = subprocess.run([str(hadolint), "--failure-threshold", "warning", str(dockerfile)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [ln.strip() for ln in dockerfile.read_text().splitlines()]
    froms = [ln.split()[1] for ln in lines if ln.startswith("FROM ")]
    assert len(froms) >= 2, "multi-stage build"
    for image in froms:
        # Pinned: an explicit version tag (or a digest), never a floating tag.
        assert re.search(r":\d+\.\d+\.\d+[\w.-]*$|@sha256:[0-9a-f]{64}$", image), image
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert lines.index(next(ln for ln in lines if ln.startswith("USER "))) > \
        lines.index(next(ln for ln in reversed(lines) if ln.startswith("FROM ")))


def test_dockerfile_build_stage_context_builds_the_wheel(tmp_path: Path) -> None:
    """Without a container engine: the files the build stage COPYs are enough for the wheel."""
    context = tmp_path / "context"
    context.mkdir()
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    copies = [ln.split()[1:-1] for ln in lines if ln.startswith("COPY ") and "--from" not in ln]
    for sources in copies:
        for source in sources:
            src = ROOT / source
            if src.is_dir():
                shutil.copytree(src, context / source,
                                ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(src, context / source)
    out = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(context)], check=True, capture_output=True)
    (wheel,) = out.glob("focusflow-*.whl")
    (entrypoint,) = [json.loads(ln.split(None, 1)[1]) for ln in _final_stage()
                     if ln.startswith("ENTRYPOINT ")]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "focusflow = focusflow.__main__:main" in archive.read(entry_points).decode()
        # The image's entrypoint is the wheel's console script (what the bare-start test runs).
        assert f"{entrypoint[0]} = focusflow.__main__:main" in archive.read(entry_points).decode()
    assert "focusflow/operator/handlers.py" in names
    assert "focusflow/py.typed" in names
    # operator render prunes and defaults with the CRDs' schemas: they ship in the wheel.
    crds = {p.name for p in (ROOT / "deploy" / "crds").glob("*.yaml")}
    assert {n.rsplit("/", 1)[-1] for n in names if n.startswith("focusflow/operator/crds/")} \
        == crds


def _prometheus_export(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "focusflow.dev/v1alpha1", "kind": "PrometheusExport",
            "metadata": {"name": "prod", "namespace": "monitoring"},
            "spec": {"clusterName": "prod", "s3Bucket": "finout-k8s-metrics", **spec}}


@pytest.mark.parametrize("days", ["3d", "30d", 3, "3", 0])
def test_prometheus_export_crd_takes_backfill_days_as_finout_writes_them(days: Any) -> None:
    stored = crd_schema.admit(CRDS["PrometheusExport"], "v1alpha1",
                              _prometheus_export(backfillDays=days,
                                                 initialBackfillDate="2025-10-01"))
    assert stored["spec"]["backfillDays"] == days
    assert stored["spec"]["initialBackfillDate"] == "2025-10-01"


@pytest.mark.parametrize(("spec", "where"), [
    ({"backfillDays": "3h"}, "spec.backfillDays"),
    ({"backfillDays": -1}, "spec.backfillDays"),
    ({"backfillDays": "three"}, "spec.backfillDays"),
    ({"initialBackfillDate": "01/10/2025"}, "spec.initialBackfillDate"),
])
def test_prometheus_export_crd_refuses_other_forms(spec: dict[str, Any], where: str) -> None:
    with pytest.raises(ValueError, match=where):
        crd_schema.admit(CRDS["PrometheusExport"], "v1alpha1", _prometheus_export(**spec))


def test_backfill_days_schema_is_structural_int_or_string() -> None:
    # The API server allows anyOf with types only in the int-or-string form.
    schema = crd_schema.schema_for(CRDS["PrometheusExport"], "v1alpha1")
    days = schema["properties"]["spec"]["properties"]["backfillDays"]
    assert days["x-kubernetes-int-or-string"] is True and "type" not in days
    assert [branch["type"] for branch in days["anyOf"]] == ["integer", "string"]


def _final_stage() -> list[str]:
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()]
    last_from = max(i for i, ln in enumerate(lines) if ln.startswith("FROM "))
    return lines[last_from:]


def test_dockerfile_bare_start_is_never_a_silent_success() -> None:
    # `CMD ["--help"]` made a Job started without arguments print help and exit 0 having
    # exported nothing (issue 13); a bare start must reach focusflow's own decision instead
    # (tests/integration/k8s_export/test_finout_settings.py runs it).
    stage = _final_stage()
    assert [ln for ln in stage if ln.startswith("CMD ")] == []
    assert [ln for ln in stage if ln.startswith("ENTRYPOINT ")] == ['ENTRYPOINT ["focusflow"]']
