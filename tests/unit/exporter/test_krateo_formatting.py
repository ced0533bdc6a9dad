"""Krateo's value spellings and label names, checked against Krateo's own code and tests.

Expected strings come from krateoplatformops/finops-prometheus-exporter
``internal/handlers/helpers_test.go`` (JSON → CSV: ``1.40`` → ``1.4``, ``10`` → ``10``) and
finops-operator-focus ``test/e2e`` (``tests/data/krateo``), and from the Go code they run
(``resource.Quantity.AsDec().String()``, ``metav1.Time`` with ``time.RFC3339``, ``fmt.Sprint``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from focusflow.exporter import ExporterConfig
from focusflow.exporter.config import LabelNames
from focusflow.exporter.decode import decode
from focusflow.exporter.exposition import render
from focusflow.exporter.krateo_text import go_sprint, quantity_text, rfc3339_nano, rfc3339_utc
from focusflow.sources import Fetched

KRATEO = Path(__file__).resolve().parents[2] / "data" / "krateo"


def _config(**extra: object) -> ExporterConfig:
    return ExporterConfig.parse({"source": "x", "pollingInterval": "1m", **extra}, where="t")


def _labels(body: bytes, content_type: str, config: ExporterConfig) -> list[dict[str, str]]:
    text = render(decode(Fetched(name="r", body=body, content_type=content_type), config),
                  config).text.decode()
    return [s.labels for f in text_string_to_metric_families(text) for s in f.samples]


def test_krateo_label_names_are_the_default_and_snake_is_an_opt_in() -> None:
    assert _config().label_names is LabelNames.VERBATIM
    body = b"BilledCost,ServiceName,ProviderName\n1.5,EC2,AWS\n"
    assert _labels(body, "text/csv", _config()) == [
        {"BilledCost": "1.5", "ServiceName": "EC2", "ProviderName": "AWS"}]
    assert _labels(body, "text/csv", _config(labelNames="snake")) == [
        {"billed_cost": "1.5", "service_name": "EC2", "provider_name": "AWS"}]


def test_generic_json_values_as_krateos_helpers_test_expects() -> None:
    # helpers_test.go "simple two rows": {"test": "name", "value": 0.34}, {..., "value": 1.40}
    body = b'[{"test": "name", "value": 0.34}, {"test": "name2", "value": 1.40}]'
    config = _config(metricType="generic", generic={"metricName": "m", "valueColumnIndex": 1})
    assert _labels(body, "application/json", config) == [{"test": "name", "value": "0.34"},
                                                          {"test": "name2", "value": "1.4"}]
    # "single object": {"foo": "bar", "count": 10} -> "count,foo\n10,bar"
    assert go_sprint(10) == "10" and go_sprint(1e6) == "1e+06" and go_sprint(1.4) == "1.4"
    assert go_sprint(123456.0) == "123456" and go_sprint(1e-05) == "1e-05"
    assert go_sprint(True) == "true" and go_sprint(None) is None


def test_generic_tags_column_gets_krateos_rewrite_with_krateo_names_only() -> None:
    body = b'Tags,value\n"{""env"": ""prod""}",1\n'
    config = _config(metricType="generic", generic={"metricName": "m", "valueColumnIndex": 1})
    assert _labels(body, "text/csv", config)[0]["Tags"] == "env: prod"
    snake = _config(metricType="generic", generic={"metricName": "m", "valueColumnIndex": 1},
                    labelNames="snake")
    assert _labels(body, "text/csv", snake)[0]["tags"] == '{"env": "prod"}'


def test_quantities_times_and_prometheus_sample_times() -> None:
    assert [quantity_text(v) for v in (27000.0, 27000, 1.5e-7, "1.50", "3", "1e3", None)] == [
        "27000", "27000", "0.00000015", "1.50", "3", "1000", None]
    assert rfc3339_utc("2024-01-01T00:00:00+02:00") == "2023-12-31T22:00:00Z"
    assert rfc3339_utc("2024-12-31T23:59:59.5+02:00") == "2024-12-31T21:59:59Z"  # RFC3339: s
    # Go: time.Unix(s, int64((v-s)*1e9)).UTC().Format(time.RFC3339Nano)
    assert rfc3339_nano(1765210903.436) == "2025-12-08T16:21:43.436000108Z"
    assert rfc3339_nano(1765210903) == "2025-12-08T16:21:43Z"


def test_azure_monitor_labels_keep_krateos_names_and_quantity_text() -> None:
    body = json.dumps({"value": [{"name": {"value": "Percentage CPU"}, "unit": "Percent",
                                  "timeseries": [{"data": [
                                      {"timeStamp": "2025-06-04T00:15:00+00:00",
                                       "average": 12.0},
                                      {"timeStamp": "2025-06-04T00:30:00Z", "average": 3e-9},
                                  ]}]}]}).encode()
    config = _config(metricType="resource", additionalVariables={"ResourceId": "/vm01"})
    assert _labels(body, "application/json", config) == [
        {"ResourceId": "/vm01", "metricName": "Percentage CPU",
         "timestamp": "2025-06-04T00:15:00Z", "average": "12.0", "unit": "Percent"},
        {"ResourceId": "/vm01", "metricName": "Percentage CPU",
         "timestamp": "2025-06-04T00:30:00Z", "average": "0.000000003", "unit": "Percent"}]


def test_focusconfig_list_matches_krateos_e2e_expectation_and_types_losslessly() -> None:
    docs = list(yaml.safe_load_all((KRATEO / "operator-focus_e2e_to_test_1.yaml").read_text()))
    body = json.dumps({"items": docs}).encode()
    config = _config()
    decoded = decode(Fetched(name="r", body=body, content_type="application/json"), config)
    text = render(decoded, config).text.decode()
    lines = [line.replace(" ", "") for line in text.splitlines()
             if line.startswith("billed_cost{")]
    expected = [line.replace(" ", "") for line in
                (KRATEO / "operator-focus_e2e_expected_metrics.txt").read_text().splitlines()
                if line.startswith("billed_cost{")]
    assert lines[:2] == expected
    assert decoded.leniency.nonconformant == {"ChargeCategory": 3, "ChargeFrequency": 3,
                                     "PricingCategory": 3, "ServiceSubcategory": 3}
    first = decoded.rows.to_pylist()[0]
    assert first["CommitmentDiscountQuantity"] is None  # absent: NULL, not Krateo's 0
    assert first["BillingPeriodStart"].isoformat() == "2023-12-31T22:00:00+00:00"
    assert json.loads(first["Tags"]) == {"testkey1": "testvalue", "testkey2": "testvalue"}
    assert first["ChargeCategory"] == "purchase"  # served as it is


@pytest.mark.parametrize(("cell", "served"), [("purchase", 2), ("n/a", 1)])
def test_lenient_serving_counts_or_quarantines(cell: str, served: int) -> None:
    body = f"BilledCost,ChargeCategory\n1,Usage\n{'n/a' if cell == 'n/a' else 2},{cell}\n"
    decoded = decode(Fetched(name="r", body=body.encode(), content_type="text/csv"), _config())
    assert decoded.rows.num_rows == decoded.text.num_rows == served
    if cell == "purchase":
        assert decoded.leniency.nonconformant == {"ChargeCategory": 1}
        assert not decoded.leniency.quarantined
    else:
        assert [(r.row, r.column, r.value) for r in decoded.leniency.quarantined] == [
            (2, "BilledCost", "n/a")]
        assert decoded.leniency.nonconformant == {}  # n/a's row is not served, nor counted
