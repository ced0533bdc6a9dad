"""Krateo's contract end to end: its CRs unchanged, its PromQL, its own lower-case fixtures.

- A real Prometheus scrapes ``focusflow exporter`` started from Krateo's example CRs (the
  ExporterScraperConfig of reference §2.1 and the one of Krateo's operator-exporter e2e test),
  and Krateo's query ``sum by (ServiceName)(billed_cost)`` gives one series per service.
- Krateo's operator-focus e2e FocusConfigs (``chargeCategory: purchase``, ``one-time``,
  ``other``: outside FOCUS's allowed lists) are served whole, each non-conformant cell counted
  per column, the series equal to what that e2e test expects from Krateo's exporter, and a
  scraper loads every row as it is.
- Krateo's exporter's own output (that e2e expectation) read by the scraper's ``/metrics``
  fallback loads too.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
import yaml

from fixtures import krateo_examples
from fixtures.exporter_pipeline import REPO, sample, scraper_for, serve, write_secret
from fixtures.net import free_port, stop, wait_http
from fixtures.prometheus import PrometheusServer, promtool_check
from fixtures.upstream_http import Upstream
from focusflow.runtime.http import Request

pytestmark = pytest.mark.integration

FOCUSFLOW = str(Path(sys.executable).parent / "focusflow")
KRATEO = REPO / "tests" / "data" / "krateo"
FOCUS_LIST_PATH = "/apis/finops.krateo.io/v1/namespaces/finops-test/focusconfigs?limit=500"


def _service_sums(report: Path) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    with report.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            sums[row["ServiceName"]] += Decimal(row["BilledCost"] or "0")
    return sums


def _azure_focus_cr(tmp: Path, upstream: Upstream) -> tuple[Path, Path, dict[str, str]]:
    """Reference §2.1's ExporterScraperConfig verbatim; its Secret points at ``upstream``."""
    config = tmp / "azure-focus.yaml"
    config.write_text(krateo_examples.AZURE_FOCUS)
    secret = krateo_examples.load(krateo_examples.ENDPOINT_SECRET)
    write_secret(tmp / "secrets", "krateo-system", "azure-storage-account",
                 {**secret["stringData"], "server-url": upstream.url})
    return config, tmp / "secrets", {}


def _operator_exporter_e2e_cr(tmp: Path, upstream: Upstream) -> tuple[Path, Path, dict[str, str]]:
    """Krateo's operator-exporter e2e CR and Secret verbatim (``http://<host>:<port>`` filled
    from the service environment variables its ``additionalVariables`` name)."""
    secret, cr = yaml.safe_load_all((KRATEO / "operator-exporter_e2e_to_test.yaml").read_text())
    config = tmp / "e2e.yaml"
    config.write_text(yaml.safe_dump(cr))
    write_secret(tmp / "secrets", "finops-test", secret["metadata"]["name"],
                 secret["stringData"])
    host, port = upstream.url.removeprefix("http://").split(":")
    return config, tmp / "secrets", {"WEBSERVICE_API_MOCK_SERVICE_HOST": host,
                                     "WEBSERVICE_API_MOCK_SERVICE_PORT": port}


def _query(prometheus: PrometheusServer, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": expr}, timeout=10)
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


@pytest.mark.slow
@pytest.mark.parametrize("make_cr", [_azure_focus_cr, _operator_exporter_e2e_cr],
                         ids=["reference-azure-focus", "operator-exporter-e2e"])
def test_krateo_promql_sums_by_service_against_a_default_configured_exporter(
    make_cr: Callable[[Path, Upstream], tuple[Path, Path, dict[str, str]]],
    upstream: Upstream, prometheus_factory: Callable[..., PrometheusServer], tmp_path: Path,
) -> None:
    report = sample("focus_1_2_cost_and_usage_aws.csv")
    # Served gzip-compressed as an octet-stream, as blob stores and Krateo's mock do.
    upstream.respond(body=gzip.compress(report.read_bytes()),
                     content_type="application/octet-stream")
    config, secrets, env = make_cr(tmp_path, upstream)
    port = free_port()
    process = subprocess.Popen(
        [FOCUSFLOW, "exporter", "--config", str(config), "--secrets-dir", str(secrets),
         "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **env})
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", process, timeout=60)
        prometheus = prometheus_factory(
            "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: krateo-exporter\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
        expected = _service_sums(report)
        result: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(result) < len(expected):
            result = _query(prometheus, "sum by (ServiceName)(billed_cost)")
            time.sleep(0.5)
    finally:
        stop(process)
    got = {series["metric"].get("ServiceName", ""): float(series["value"][1])
           for series in result}
    assert len(result) == len(expected) > 1  # one series per service
    assert got == {name: pytest.approx(float(total), rel=1e-9) for name, total in expected.items()}
    assert upstream.requests[0][1] in ("/focus/exports/static-export.csv", "/costs/gzip")


def _focus_list() -> bytes:
    """Krateo's e2e FocusConfigs as the API server lists them (spec included, as stored)."""
    docs = list(yaml.safe_load_all((KRATEO / "operator-focus_e2e_to_test_1.yaml").read_text()))
    return json.dumps({"apiVersion": "finops.krateo.io/v1", "kind": "FocusConfigList",
                       "items": docs}).encode()


def _without_spaces(text: str) -> list[str]:
    return [line.replace(" ", "") for line in text.splitlines() if line.startswith("billed_cost{")]


def test_krateo_fixture_values_are_served_whole_and_counted(upstream: Upstream, promtool: str,
                                                            tmp_path: Path) -> None:
    upstream.respond(body=_focus_list(), content_type="application/json")
    secrets = tmp_path / "secrets"
    write_secret(secrets, "finops-test", "k8s", {"server-url": upstream.url})
    config = {"api": {"path": FOCUS_LIST_PATH, "endpointRef": {"name": "k8s",
                                                              "namespace": "finops-test"}},
              "metricType": "cost"}
    with serve(config, secrets_dir=secrets) as served:
        assert served.exporter.poll_once()
        metrics = httpx.get(f"{served.url}/metrics", timeout=30).text
        own_metrics = httpx.get(f"{served.url}/metrics/self", timeout=30).text
        rows = httpx.get(f"{served.url}/rows", timeout=30)
        database = f"duckdb:///{tmp_path / 'focus.duckdb'}"
        scraper = scraper_for(served.url, database, table="focus_export")
        result = scraper.scrape_once()
    promtool_check(promtool, (metrics + own_metrics).encode(), camel_case=True)
    lines = _without_spaces(metrics)
    assert len(lines) == 3 and rows.headers["X-Focusflow-Rows"] == "3"  # every row served
    # The series Krateo's own e2e test expects from Krateo's exporter, byte for byte (that
    # test compares with spaces removed; labels in the order Krateo's client prints them).
    expected = _without_spaces((KRATEO / "operator-focus_e2e_expected_metrics.txt").read_text())
    assert len(expected) == 2 and all(line in lines for line in expected)
    nonconformant = {"ChargeCategory": 3, "ChargeFrequency": 3, "PricingCategory": 3,
                     "ServiceSubcategory": 3}  # purchase, one-time, other, test
    for column in nonconformant:
        assert f'focusflow_exporter_nonconformant_cells_total{{column="{column}"}} 3' \
            in own_metrics
        assert f'focusflow_exporter_nonconformant_cells{{column="{column}"}} 3' in own_metrics
    assert "focusflow_exporter_quarantined_rows 0" in own_metrics
    # The scraper loads the rows as they are (lossless), and counts the same cells.
    assert result is not None and result.rows_written == 3
    with duckdb.connect(str(tmp_path / "focus.duckdb"), read_only=True) as con:
        loaded = con.execute('SELECT "ChargeCategory", "ChargeFrequency", "BilledCost", '
                             '"CommitmentDiscountQuantity", "Tags" FROM focus_export '
                             'ORDER BY "BilledCost"').fetchall()
    assert [row[:3] for row in loaded] == [("purchase", "one-time", Decimal("27000")),
                                           ("purchase", "one-time", Decimal("27000")),
                                           ("purchase", "one-time", Decimal("30000"))]
    assert loaded[0][3] is None  # absent: NULL in the table, Krateo's "0" only in the label
    assert json.loads(loaded[0][4]) == {"testkey1": "testvalue", "testkey2": "testvalue"}
    assert scraper.stats.nonconformant_cells == nonconformant
    body = scraper.metrics(Request("/metrics", {}, {})).body
    own = body.decode() if isinstance(body, bytes) else b"".join(body).decode()
    assert 'focusflow_scraper_nonconformant_cells_total{column="ChargeCategory"} 3' in own
    assert "focusflow_scraper_quarantined_rows_total 0" in own


def test_untypable_cells_quarantine_their_rows_and_the_rest_is_served(
    upstream: Upstream, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    report = sample("focus_1_2_cost_and_usage_aws.csv").read_text().splitlines(keepends=True)
    header = next(csv.reader([report[0]]))
    bad = next(csv.reader([report[5]]))
    bad[header.index("BilledCost")] = "n/a"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(bad)
    report[5] = buffer.getvalue()
    upstream.respond(body="".join(report).encode(), content_type="text/csv")
    secrets = tmp_path / "secrets"
    write_secret(secrets, "ns", "src", {"server-url": upstream.url})
    with serve({"api": {"path": "/report.csv", "endpointRef": {"name": "src", "namespace": "ns"}}},
               secrets_dir=secrets) as served:
        assert served.exporter.poll_once()
        metrics = httpx.get(f"{served.url}/metrics", timeout=30).text
        own_metrics = httpx.get(f"{served.url}/metrics/self", timeout=30).text
    assert metrics.count("\nbilled_cost{") == len(report) - 2  # all rows but the bad one
    assert "focusflow_exporter_quarantined_rows 1" in own_metrics
    assert "focusflow_exporter_quarantined_rows_total 1" in own_metrics
    assert "row 5 column BilledCost" in caplog.text and "'n/a'" in caplog.text


def test_scraper_reads_krateos_own_exporter_output_leniently(upstream: Upstream,
                                                            tmp_path: Path) -> None:
    # Krateo's exporter's exposition as its e2e test expects it; the test compares it with
    # spaces removed, so the space before each sample value is put back.
    expected = (KRATEO / "operator-focus_e2e_expected_metrics.txt").read_text()
    exposition = "\n".join(line.replace("}", "} ", 1) if line.startswith("billed_cost{")
                           else line for line in expected.splitlines()) + "\n"
    upstream.queue.append(upstream.reply.__class__(404, b"not found\n", "text/plain"))
    upstream.respond(body=exposition.encode(), content_type="text/plain; version=0.0.4")
    database = f"duckdb:///{tmp_path / 'krateo.duckdb'}"
    scraper = scraper_for(upstream.url, database, table="focus_export")
    result = scraper.scrape_once()
    assert result is not None and result.rows_written == 2
    with duckdb.connect(str(tmp_path / "krateo.duckdb"), read_only=True) as con:
        loaded = con.execute('SELECT "ChargeCategory", "BilledCost" FROM focus_export '
                             'ORDER BY "BilledCost"').fetchall()
    assert loaded == [("purchase", Decimal("27000")), ("purchase", Decimal("30000"))]
    assert scraper.stats.nonconformant_cells["ChargeCategory"] == 2


def test_resource_and_generic_modes_keep_krateos_names_and_pass_promtool(
    upstream: Upstream, promtool: str, tmp_path: Path,
) -> None:
    secrets = tmp_path / "secrets"
    write_secret(secrets, "ns", "src", {"server-url": upstream.url})
    api = {"path": "/data", "endpointRef": {"name": "src", "namespace": "ns"}}
    upstream.respond(body=json.dumps({"value": [
        {"name": {"value": "Percentage CPU"}, "unit": "Percent", "timeseries": [{"data": [
            {"timeStamp": "2025-06-04T00:15:00Z", "average": 1.23}]}]}]}).encode(),
        content_type="application/json")
    resource = {"api": api, "metricType": "resource",
                "additionalVariables": {"ResourceId": "/vm01"}}
    with serve(resource, secrets_dir=secrets) as served:
        assert served.exporter.poll_once()
        body = httpx.get(f"{served.url}/metrics", timeout=30).content
    promtool_check(promtool, body, camel_case=True)
    assert (b'percentage_cpu{ResourceId="/vm01",metricName="Percentage CPU",'
            b'timestamp="2025-06-04T00:15:00Z",average="1.23",unit="Percent"} 1.23') in body
    # Krateo's README generic example: a Prometheus API vector, valueColumnIndex 4.
    upstream.respond(body=json.dumps({"status": "success", "data": {"resultType": "vector",
        "result": [{"metric": {"__name__": "container_cpu_usage_seconds_total",
                               "container": "app", "namespace": "shop", "pod": "web-1"},
                    "value": [1765210903.436, "1234.5"]}]}}).encode(),
        content_type="application/json")
    generic = {"api": api, "metricType": "generic",
               "generic": {"metricName": "cpu", "valueColumnIndex": 4}}
    with serve(generic, secrets_dir=secrets) as served:
        assert served.exporter.poll_once()
        body = httpx.get(f"{served.url}/metrics", timeout=30).content
    promtool_check(promtool, body, camel_case=True)
    assert (b'cpu{metric_name="container_cpu_usage_seconds_total",container="app",'
            b'namespace="shop",pod="web-1",value="1234.5",'
            b'timestamp="2025-12-08T16:21:43.436000108Z"} 1234.5') in body
