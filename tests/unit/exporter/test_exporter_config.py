"""ExporterConfig: every Krateo shape and casing, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fixtures.krateo_examples import AZURE_FOCUS, load
from focusflow.errors import ConfigError
from focusflow.exporter import ExporterConfig, MetricType, load_exporter_config


def whole_cr() -> str:
    """Krateo's example CR, its enum in another casing and one variable not a string."""
    doc = load(AZURE_FOCUS)
    exporter = doc["spec"]["exporterConfig"]
    exporter["metricType"] = "Cost"
    exporter["additionalVariables"]["port"] = 8080
    return yaml.safe_dump(doc)


# Go yaml.v3's rendering (reference §6.3): json-only keys lower-cased, durations as mappings.
GO_RENDERED = """
exporterConfig:
  api: {path: /x.csv, verb: GET, endpointref: {name: e, namespace: ns}}
  metricType: resource
  pollingInterval: {duration: 1h30m0s}
  additionalVariables: {ResourceId: /subscriptions/s/vm01}
"""


def loaded(tmp_path: Path, text: str) -> ExporterConfig:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_exporter_config(path)


def test_whole_cr(tmp_path: Path) -> None:
    config = loaded(tmp_path, whole_cr())
    assert config.metric_type is MetricType.COST
    assert config.polling_interval == 3600
    assert config.api is not None and config.api.endpoint_ref is not None
    assert config.api.endpoint_ref.name == "azure-storage-account"
    assert config.additional_variables["port"] == "8080"


def test_go_rendered_casing_and_duration(tmp_path: Path) -> None:
    config = loaded(tmp_path, GO_RENDERED)
    assert config.metric_type is MetricType.RESOURCE
    assert config.polling_interval == 5400
    assert config.api is not None and config.api.endpoint_ref is not None


def test_spec_only_and_section_only(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("exporterConfig: {source: a.csv, pollingInterval: 5m}\n")
    section = tmp_path / "section.yaml"
    section.write_text("source: a.csv\npollingInterval: 5m\nmetricType: GENERIC\n"
                       "generic: {metricName: cpu, valueColumnIndex: 4}\n")
    assert load_exporter_config(spec).polling_interval == 300
    generic = load_exporter_config(section)
    assert generic.generic is not None and generic.generic.value_column_index == 4


@pytest.mark.parametrize(("data", "field"), [
    ({"source": "a.csv"}, "pollingInterval"),
    ({"source": "a.csv", "pollingInterval": "soon"}, "pollingInterval"),
    ({"source": "a.csv", "pollingInterval": "0s"}, "pollingInterval"),
    ({"source": "a.csv", "pollingInterval": "1m", "metricType": "bills"}, "metricType"),
    ({"source": "a.csv", "pollingInterval": "1m", "metricType": "generic"}, "generic"),
    ({"source": "a.csv", "pollingInterval": "1m", "metricType": "generic",
      "generic": {"metricName": "x", "valueColumnIndex": -1}}, "generic.valueColumnIndex"),
    ({"pollingInterval": "1m"}, "api"),
])
def test_invalid_configs_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ExporterConfig.parse(data, where="cr.yaml exporterConfig")
    assert field in str(caught.value)
    assert "cr.yaml" in str(caught.value)


def test_unreadable_and_wrong_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_exporter_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_exporter_config(bad)
