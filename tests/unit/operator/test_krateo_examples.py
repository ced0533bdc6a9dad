"""Krateo's own example CRs (tests/data/krateo, see SOURCE.md) under focusflow's operator.

FocusConfigs are admitted by the CRD as Krateo writes them, grouped into the
ExporterScraperConfigs Krateo's operator-focus generates, and those generated
ExporterScraperConfigs (empty scraperConfig.metricType, exporter-only groups with an empty
tableName and 0s intervals) render; ``render`` prunes and defaults like the API server.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from emulators import crd_schema
from fixtures.krateo_focus import (
    FOCUS_E2E_1,
    FOCUS_E2E_2,
    GENERATED_ESCS,
    KRATEO,
    docs,
    expected_series,
    krateo_series,
)
from fixtures.kube_api import load_crds
from focusflow.cli import app
from focusflow.operator import OperatorSettings, load_manifests, render_tree
from focusflow.operator.krateo import normalized

SETTINGS = OperatorSettings()
CRDS = {c["spec"]["names"]["kind"]: c for c in load_crds()}


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


@pytest.mark.parametrize("name", ["operator-focus_e2e_to_test_1.yaml",
                                  "operator-focus_e2e_to_test_2.yaml"])
def test_focusconfig_crd_admits_krateos_e2e_focusconfigs(name: str) -> None:
    for doc in docs(KRATEO / name):
        stored = crd_schema.admit(CRDS["FocusConfig"], "v1", copy.deepcopy(doc))
        assert stored["spec"]["focusSpec"] == doc["spec"]["focusSpec"]


def test_focusconfig_crd_refuses_what_krateos_refuses() -> None:
    (doc, *_) = docs(FOCUS_E2E_1)
    doc["spec"]["focusSpec"]["billingCurrency"] = "euro"
    with pytest.raises(ValueError, match="billingCurrency"):
        crd_schema.admit(CRDS["FocusConfig"], "v1", doc)


def test_focusconfigs_group_into_the_escs_operator_focus_generates() -> None:
    focus = load_manifests([FOCUS_E2E_1, FOCUS_E2E_2])
    ours = {o["metadata"]["name"]: o for o in by_kind(render_tree(focus, SETTINGS, []),
                                                      "ExporterScraperConfig")}
    krateo = {d["metadata"]["name"]: d for d in docs(GENERATED_ESCS)}
    assert sorted(ours) == sorted(krateo) == [
        "all-cr-exporter", "focus-export-1-exporter", "focus-export-2-exporter",
        "focus-export-exporter"]
    for name, esc in ours.items():
        # Identical once Krateo's zero values are read as Krateo's operators read them.
        assert esc["spec"] == normalized(krateo[name])["spec"], name
    members = {o["name"] for o in ours["focus-export-exporter"]["metadata"]["ownerReferences"]}
    assert members == {"focusconfig-sample1", "focusconfig-sample2"}
    assert "scraperConfig" not in ours["all-cr-exporter"]["spec"]


def test_focusconfig_file_renders_the_group_tree() -> None:
    result = CliRunner().invoke(app, ["operator", "render", "-f", str(FOCUS_E2E_1)])
    assert result.exit_code == 0, result.output
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    assert ("Deployment", "focus-export-exporter-deployment") in kinds  # Krateo's e2e name
    assert ("Deployment", "all-cr-exporter-deployment") in kinds
    # The exporters read the FocusConfig list from the API: a token and a get/list-only Role.
    for role in by_kind(rendered, "Role"):
        assert role["rules"] == [{"apiGroups": ["finops.krateo.io"],
                                  "resources": ["focusconfigs"], "verbs": ["get", "list"]}]
    assert "DatabaseConfig finops-test/finops-database-handler is not in the given files" \
        in result.stderr


def test_generated_escs_render() -> None:
    objects = render_tree(load_manifests([GENERATED_ESCS]), SETTINGS, [])
    scrapers = {o["metadata"]["name"]: o for o in by_kind(objects, "ScraperConfig")}
    assert sorted(scrapers) == ["focus-export-1-exporter-scraper",
                                "focus-export-2-exporter-scraper",
                                "focus-export-exporter-scraper"]
    for scraper in scrapers.values():
        assert scraper["spec"]["metricType"] == "cost"  # Krateo's "" read as the exporter's
    (config,) = [o for o in by_kind(objects, "ConfigMap")
                 if o["metadata"]["name"] == "all-cr-exporter-configmap"]
    exporter = yaml.safe_load(config["data"]["config.yaml"])["spec"]["exporterConfig"]
    assert exporter["pollingInterval"] == "5m"  # Krateo's 0s, no hot loop


def test_render_prunes_nulls_as_the_api_server_does(tmp_path: Path) -> None:
    (esc, secret) = docs(KRATEO / "operator-exporter_e2e_to_test.yaml")[::-1]
    esc["spec"]["exporterConfig"]["additionalVariables"]["x"] = None
    esc["spec"]["exporterConfig"]["unknownField"] = "pruned"
    path = tmp_path / "esc.yaml"
    path.write_text(yaml.safe_dump_all([secret, esc]))
    result = CliRunner().invoke(app, ["operator", "render", "-f", str(path)])
    assert result.exit_code == 0, result.output
    (config,) = [d for d in yaml.safe_load_all(result.stdout)
                 if d and d["kind"] == "ConfigMap"]
    spec = yaml.safe_load(config["data"]["config.yaml"])["spec"]
    assert spec["exporterConfig"]["additionalVariables"] == {
        "host": "WEBSERVICE_API_MOCK_SERVICE_HOST", "port": "WEBSERVICE_API_MOCK_SERVICE_PORT"}
    assert "unknownField" not in spec["exporterConfig"]


EXAMPLES = sorted(KRATEO.rglob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(KRATEO)) for p in EXAMPLES])
def test_every_krateo_example_renders(path: Path) -> None:
    """Every real Krateo example CR that kubectl apply accepts renders (exit 0), Secrets
    referenced from another namespace included, and every custom resource it holds is one
    the CRDs admit."""
    for doc in docs(path):
        crd = CRDS.get(doc["kind"]) if doc["apiVersion"].startswith("finops.krateo.io") \
            else None
        if crd is not None:
            crd_schema.admit(crd, "v1", copy.deepcopy(doc))
    result = CliRunner().invoke(app, ["operator", "render", "-f", str(path)])
    assert result.exit_code == 0, result.output
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert by_kind(rendered, "Deployment")


def test_cross_namespace_database_password_is_copied_with_its_key_only(tmp_path: Path) -> None:
    # operator-scraper's e2e: the DatabaseConfig in finops-test names a password Secret in
    # krateo-system. The scraper pod gets a copy with just that key, owned by the ScraperConfig.
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "cratedb-system-credentials", "namespace": "krateo-system"},
              "data": {"password": "c2VjcmV0", "other": "bm90LWNvcGllZA=="}}
    path = tmp_path / "secret.yaml"
    path.write_text(yaml.safe_dump(secret))
    objects = render_tree(load_manifests([KRATEO / "operator-scraper_e2e_to_test.yaml",
                                          path]), SETTINGS, [])
    (copy_,) = [o for o in by_kind(objects, "Secret")
                if "focusflow.dev/copy-of" in o["metadata"].get("annotations", {})]
    assert copy_["data"] == {"password": "c2VjcmV0"}
    assert copy_["metadata"]["ownerReferences"][0]["kind"] == "ScraperConfig"
    assert copy_["metadata"]["namespace"] == "finops-test"


def test_krateo_rendering_of_its_e2e_focusconfigs_is_its_expected_output() -> None:
    # The test oracle (fixtures.krateo_focus) checked against Krateo's own expectation: the
    # focus_export group (sample1 + sample2) serves exactly these two series.
    sample1, sample2, _ = docs(FOCUS_E2E_1)
    assert {krateo_series(sample1), krateo_series(sample2)} == \
        expected_series("e2e_expected_metrics.txt")
