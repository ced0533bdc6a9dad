"""Unknown config keys that are typos are errors with a "did you mean" (issue 15 item 6);
every field Krateo's CRDs have ever defined is still accepted.

Before: ``metricTyp: resource`` was ignored and the exporter served cost metrics;
``labelName: verbatim`` was ignored and label names were snake_cased.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fixtures.krateo_examples import AZURE_FOCUS, load
from focusflow.errors import ConfigError
from focusflow.exporter import MetricType, load_exporter_config
from focusflow.scraper.pipeline import load_pipeline
from focusflow.sources.models import KRATEO_FIELDS


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "cr.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(("typo", "value", "meant"), [
    ("metricTyp", "resource", "metricType"),
    ("labelName", "verbatim", "labelNames"),
    ("pollingIntervall", "1h", "pollingInterval"),
])
def test_a_typo_in_an_exporter_cr_is_one_line_with_a_suggestion(
        tmp_path: Path, typo: str, value: str, meant: str) -> None:
    doc = load(AZURE_FOCUS)
    doc["spec"]["exporterConfig"][typo] = value
    with pytest.raises(ConfigError) as raised:
        load_exporter_config(_write(tmp_path, doc))
    message = str(raised.value)
    assert f"unknown field {typo!r}; did you mean {meant!r}?" in message
    assert "\n" not in message


@pytest.mark.parametrize(("text", "typo", "meant"), [
    ("listn: 127.0.0.1:0\nsources:\n  - name: gcp\n"
     "    exporterConfig: {source: gcp.csv, pollingInterval: 1h}\n", "listn", "listen"),
    ("sources:\n  - name: gcp\n"
     "    exporterConfig: {source: gcp.csv, pollingInterval: 1h, metricTyp: resource}\n",
     "metricTyp", "metricType"),
])
def test_a_typo_in_a_pipeline_file(tmp_path: Path, text: str, typo: str, meant: str) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text("kind: Pipeline\n" + text)
    with pytest.raises(ConfigError, match=f"unknown field '{typo}'; did you mean '{meant}'"):
        load_pipeline(path)


def test_every_field_krateo_defined_is_still_accepted(tmp_path: Path) -> None:
    """The fields of finops-operator-exporter's CRDs across its history (e.g. its e2e
    manifest's ``url``, ``requireAuthentication``, ``pollingIntervalHours``) next to a valid
    config: ignored where focusflow does not read them, never refused."""
    doc = load(AZURE_FOCUS)
    section = doc["spec"]["exporterConfig"]
    for name in ("url", "requireAuthentication", "pollingIntervalHours", "provider",
                 "authenticationMethod", "bearerToken", "urlParsed"):
        section[name] = "x"
    doc["status"] = {"conditions": [], "active": {"name": "x"}}
    config = load_exporter_config(_write(tmp_path, doc))
    assert config.metric_type is MetricType.COST
    assert {"pollingintervalhours", "url", "requireauthentication"} <= KRATEO_FIELDS
