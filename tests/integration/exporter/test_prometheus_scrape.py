"""A real Prometheus scrapes the exporter; promtool checks the exposition of every sample."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from fixtures.exporter_pipeline import sample, serve
from fixtures.paths import sample_files
from fixtures.prometheus import PrometheusServer, promtool_check

pytestmark = pytest.mark.integration


def _query(prometheus: PrometheusServer, expr: str) -> float | None:
    response = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": expr}, timeout=10)
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


@pytest.mark.slow
def test_prometheus_counts_and_sums_billed_cost(
    prometheus_factory: Callable[..., PrometheusServer],
) -> None:
    path = sample("focus_1_2_cost_and_usage_aws.csv")
    with serve({"source": str(path)}) as served:
        assert served.exporter.poll_once()
        snapshot = served.exporter.holder.current
        assert snapshot is not None
        expected_rows = snapshot.rows
        expected_sum = sum(Decimal(v) for v in snapshot.decoded.text.column("BilledCost")
                           .to_pylist() if v)
        prometheus = prometheus_factory(
            "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: focusflow\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{served.server.port}']}}]\n"
            "  - job_name: focusflow-self\n"
            "    metrics_path: /metrics/self\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{served.server.port}']}}]\n"
        )
        count = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait for the first successful scrape
            count = _query(prometheus, "count(billed_cost)")
            if count is not None:
                break
            time.sleep(0.5)
        assert count == expected_rows == 2000
        total = _query(prometheus, "sum(billed_cost)")
        assert total == pytest.approx(float(expected_sum), rel=1e-9)
        assert _query(prometheus, 'up{job="focusflow"}') == 1.0
        # Self-metrics come from their own path; the data job carries the data family only.
        deadline = time.monotonic() + 30
        while _query(prometheus, "focusflow_exporter_rows") is None \
                and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _query(prometheus, 'focusflow_exporter_rows{job="focusflow-self"}') \
            == expected_rows
        families = httpx.get(f"{prometheus.url}/api/v1/label/__name__/values",
                             params={"match[]": '{job="focusflow"}'}, timeout=10).json()["data"]
        assert [f for f in families if not f.startswith("scrape_") and f != "up"] == \
            ["billed_cost"]


COST_SAMPLES = [p for p in sample_files() if "BilledCost" in p.read_text().split("\n", 1)[0]]

@pytest.mark.parametrize("label_names", ["verbatim", "snake"])
@pytest.mark.parametrize("path", COST_SAMPLES, ids=lambda p: p.name)
def test_promtool_accepts_the_exposition(path: Path, label_names: str, promtool: str) -> None:
    with serve({"source": str(path), "labelNames": label_names}) as served:
        assert served.exporter.poll_once()
        body = httpx.get(f"{served.url}/metrics", timeout=30).content
    promtool_check(promtool, body, camel_case=label_names == "verbatim")
    assert body.count(b"\nbilled_cost{") + body.startswith(b"billed_cost{") > 0


def test_promtool_accepts_generic_mode_with_awkward_headers(promtool: str, tmp_path: Path) -> None:
    report = tmp_path / "generic.csv"
    report.write_text('Resource Id,Disk Read Bytes/sec,__name__,1st,value\n'
                      'a,"x\\y ""q""",n,1,2.5\na,"x\\y ""q""",n,1,2.5\nb,z,n,2,not-a-number\n')
    config = {"source": str(report), "metricType": "generic",
              "generic": {"metricName": "disk read/write bytes", "valueColumnIndex": 4}}
    with serve({**config, "labelNames": "snake"}) as served:
        assert served.exporter.poll_once()
        body = httpx.get(f"{served.url}/metrics", timeout=30).content
    promtool_check(promtool, body, camel_case=False)
    assert b'disk_read_write_bytes{resource_id="a",disk_read_bytes_sec="x\\\\y \\"q\\""' in body
    assert b'duplicate="2"' in body
    assert b"focusflow_" not in body
    with serve(config) as served:  # Krateo's names (the default): header casing, sanitised
        assert served.exporter.poll_once()
        body = httpx.get(f"{served.url}/metrics", timeout=30).content
        own = httpx.get(f"{served.url}/metrics/self", timeout=30).content
    promtool_check(promtool, body, camel_case=True)
    assert b'disk_read_write_bytes{Resource_Id="a",Disk_Read_Bytes_sec="x\\\\y \\"q\\""' in body
    assert b"focusflow_exporter_skipped_rows 1" in own
