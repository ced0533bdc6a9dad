"""Decoding responses by content type and metricType, and rendering the exposition."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fixtures.paths import EXAMPLES
from focusflow.errors import InputError
from focusflow.exporter import ExporterConfig
from focusflow.exporter.decode import decode
from focusflow.exporter.exposition import render
from focusflow.sources import Fetched

AWS = EXAMPLES / "focus_1_2_cost_and_usage_aws.csv"

COST = ExporterConfig.parse({"source": "x", "pollingInterval": "1m"}, where="t")
SNAKE = ExporterConfig.parse({"source": "x", "pollingInterval": "1m", "labelNames": "snake"},
                             where="t")

SMALL = (b"BillingPeriodStart,BilledCost,ServiceName,Resource Id,Resource/Id,x_Extra,Tags\n"
         b'2026-05-01T00:00:00Z,1.5,"EC2 ""big""",a,b,keep,"{""env"": ""prod"",""k"": ""v""}"\n'
         b"2026-05-01T00:00:00Z,2.25,S3,c,d,keep,\n")


def fetched(body: bytes, content_type: str | None = "text/csv", path: str = "") -> Fetched:
    return Fetched(name="report", body=body, content_type=content_type, hints={"path": path})


def samples(text: bytes) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value)
            for family in text_string_to_metric_families(text.decode())
            for s in family.samples]


def test_cost_rows_are_typed_and_text_is_verbatim() -> None:
    decoded = decode(fetched(SMALL), COST)
    assert decoded.rows.schema.field("BilledCost").type == pa.decimal128(38, 18)
    assert pa.types.is_timestamp(decoded.rows.schema.field("BillingPeriodStart").type)
    assert decoded.rows.column("x_Extra").to_pylist() == ["keep", "keep"]
    assert decoded.text.column("BilledCost").to_pylist() == ["1.5", "2.25"]


def test_cost_exposition_labels_values_and_sanitised_names() -> None:
    rendered = render(decode(fetched(SMALL), SNAKE), SNAKE)
    got = samples(rendered.text)
    assert [value for _, _, value in got] == [1.5, 2.25]
    labels = got[0][1]
    assert got[0][0] == "billed_cost"
    # Names with a space and a slash are sanitised without colliding; x_ columns are not labels.
    assert labels["resource_id"] == "a" and labels["resource_id_2"] == "b"
    assert "x_extra" not in labels and "x_Extra" not in labels
    assert labels["service_name"] == 'EC2 "big"'
    assert labels["tags"] == "env: prod;k: v"  # Krateo's Tags rewrite


def test_verbatim_label_names_keep_krateo_casing() -> None:
    config = ExporterConfig.parse({"source": "x", "pollingInterval": "1m",
                                   "labelNames": "verbatim"}, where="t")
    labels = samples(render(decode(fetched(SMALL), config), config).text)[0][1]
    assert labels["BilledCost"] == "1.5" and labels["Resource_Id"] == "a"
    assert samples(render(decode(fetched(SMALL), COST), COST).text)[0][1] == labels  # default


def test_duplicate_rows_stay_distinct_series() -> None:
    body = b"BilledCost,ServiceName\n1,EC2\n1,EC2\n1,EC2\n2,S3\n"
    rendered = render(decode(fetched(body), COST), COST)
    got = samples(rendered.text)
    assert len(got) == 4 and rendered.series == 4
    assert [s[1].get("duplicate") for s in got] == [None, "2", "3", None]


def test_aggregate_by_sums_the_value() -> None:
    config = ExporterConfig.parse({"source": "x", "pollingInterval": "1m", "labelNames": "snake",
                                   "aggregateBy": ["ServiceName"]}, where="t")
    body = b"BilledCost,ServiceName,ResourceId\n1.25,EC2,a\n2,EC2,b\n4,S3,c\n"
    got = samples(render(decode(fetched(body), config), config).text)
    assert [(s[1], s[2]) for s in got] == [({"service_name": "EC2"}, 3.25),
                                           ({"service_name": "S3"}, 4.0)]


@pytest.mark.parametrize(("content_type", "path"), [
    ("text/csv", ""), ("application/octet-stream", "/x.csv"), ("binary/octet-stream", "/x.gz"),
    (None, ""), ("text/plain; charset=utf-8", ""),
])
def test_gzip_is_recognised_by_magic_bytes(content_type: str | None, path: str) -> None:
    decoded = decode(fetched(gzip.compress(SMALL), content_type, path), COST)
    assert decoded.rows.num_rows == 2


def test_json_array_and_focusconfig_list() -> None:
    rows = [{"BilledCost": "1.5", "ServiceName": "EC2"}, {"BilledCost": 2, "ServiceName": "S3"}]
    assert decode(fetched(json.dumps(rows).encode(), "application/json"), COST).rows.num_rows == 2
    focus_list = {"items": [{"spec": {"focusSpec": {
        "billedCost": 3.5, "serviceName": "VM", "commitmentDiscoutId": "c1",
        "tags": [{"key": "env", "value": "prod"}]}}}]}
    decoded = decode(fetched(json.dumps(focus_list).encode(), "application/json"), COST)
    row = decoded.rows.to_pylist()[0]
    assert row["ServiceName"] == "VM" and row["CommitmentDiscountId"] == "c1"
    assert json.loads(row["Tags"]) == {"env": "prod"}


@pytest.mark.parametrize(("body", "content_type", "message"), [
    (b"<html>hi</html>", "text/html", "unsupported Content-Type 'text/html'"),
    (b"BilledCost,ServiceName\n1,EC2\n2,S3,extra\n", "text/csv", "row 2: expected 2 fields"),
    (b'{"BilledCost": 1}', "application/json", "expected a JSON array"),
    (b"[1, 2]", "application/json", "expected a JSON object per row"),
    (b'[{"BilledCost": 1', "application/json", "invalid JSON"),
    (b"ServiceName\nEC2\n", "text/csv", "needs a BilledCost column"),
    (b"", "text/csv", "empty"),
    (b"\x1f\x8bnot gzip", "text/csv", "corrupt gzip"),
])
def test_bad_inputs_are_clear_input_errors(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode(fetched(body, content_type), COST)


def test_resource_azure_monitor_metrics() -> None:
    config = ExporterConfig.parse({"source": "x", "pollingInterval": "1m", "metricType":
                                   "Resource", "additionalVariables": {"ResourceId": "/vm01"}},
                                  where="t")
    body = json.dumps({"value": [{"name": {"value": "Percentage CPU"}, "unit": "Percent",
                                  "timeseries": [{"data": [
                                      {"timeStamp": "2025-06-04T00:15:00Z", "average": 1.23},
                                      {"timeStamp": "2025-06-04T00:30:00Z"}]}]}]}).encode()
    decoded = decode(fetched(body, "application/json; charset=utf-8"), config)
    assert decoded.text.column_names == ["ResourceId", "metricName", "timestamp", "average",
                                         "unit"]
    rendered = render(decoded, config)
    got = samples(rendered.text)
    # A missing average is NULL (R6): no sample, counted as skipped.
    assert [(n, v) for n, _, v in got] == [("percentage_cpu", 1.23)]
    assert got[0][1]["ResourceId"] == "/vm01" and rendered.skipped == 1  # Krateo's names


def test_generic_prometheus_api_and_arbitrary_json() -> None:
    config = ExporterConfig.parse({"source": "x", "pollingInterval": "1m", "metricType":
                                   "generic", "generic": {"metricName": "cpu",
                                                          "valueColumnIndex": 4}}, where="t")
    body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "c", "container": "app", "namespace": "shop", "pod": "web-1"},
         "value": [1749000000, "1234.5"]}]}}).encode()
    decoded = decode(fetched(body, "application/json"), config)
    assert decoded.text.column_names == ["metric_name", "container", "namespace", "pod",
                                         "value", "timestamp"]
    got = samples(render(decoded, config).text)
    assert got[0][0] == "cpu" and got[0][2] == 1234.5
    arbitrary = json.dumps({"data": [{"b": 2, "a": "x", "n": {"k": 1}}]}).encode()
    generic = ExporterConfig.parse({"source": "x", "pollingInterval": "1m", "metricType":
                                    "generic", "generic": {"metricName": "m",
                                                           "valueColumnIndex": 1}}, where="t")
    decoded = decode(fetched(arbitrary, "application/json"), generic)
    assert decoded.text.column_names == ["a", "b", "n"]
    assert samples(render(decoded, generic).text)[0][2] == 2.0
    with pytest.raises(InputError, match="value column index 9 is out of range"):
        bad = ExporterConfig.parse({"source": "x", "pollingInterval": "1m", "metricType":
                                    "generic", "generic": {"metricName": "m",
                                                           "valueColumnIndex": 9}}, where="t")
        decode(fetched(arbitrary, "application/json"), bad)


def test_sample_file_renders_one_series_per_row() -> None:
    decoded = decode(fetched(AWS.read_bytes()), COST)
    rendered = render(decoded, COST)
    assert rendered.series == decoded.rows.num_rows == 2000
    total = sum(v for _, _, v in samples(rendered.text))
    expected = sum(float(x) for x in decoded.text.column("BilledCost").to_pylist())
    assert total == pytest.approx(expected)


def test_ragged_row_deep_in_a_large_report_is_numbered() -> None:
    # Parsed in parallel, blocks cannot count rows: the decoder re-reads serially to name it.
    header, *rows = AWS.read_bytes().splitlines(keepends=True)
    body = header + b"".join(rows) * 3  # several parser blocks
    lines = body.splitlines(keepends=True)
    lines[4321] = b"only,three,fields\n"
    with pytest.raises(InputError, match=r"row 4321: expected \d+ fields, found 3"):
        decode(fetched(b"".join(lines)), COST)


def test_large_reports_are_typed_in_few_large_batches() -> None:
    header, *rows = AWS.read_bytes().splitlines(keepends=True)
    decoded = decode(fetched(header + b"".join(rows) * 40), COST)  # 80,000 rows, ~80 MB
    assert decoded.rows.num_rows == 80_000
    assert decoded.rows.column("BilledCost").num_chunks <= 2
