"""Krateo's own scraper can read a focusflow exporter's ``/metrics`` (issue 13 item 6).

krateoplatformops/finops-prometheus-scraper-generic (``main.go``, Apache-2.0) downloads the
exporter's ``/metrics`` until two downloads have the same size, parses it with Prometheus'
text parser and turns *every sample of every family* into one row (its labels, and
``GetGauge().GetValue()``). Any other family on the page (the exporter's own
``focusflow_exporter_*`` health series, counters among them) would become bogus cost rows.
This test reads the page the same way, with prometheus_client's port of that parser.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from fixtures.exporter_pipeline import sample, serve


def krateo_rows(text: str) -> list[tuple[dict[str, str], float, str]]:
    """Rows as the Krateo scraper makes them: every sample of every family."""
    return [(dict(s.labels), s.value, family.type)
            for family in text_string_to_metric_families(text) for s in family.samples]


def test_every_family_on_metrics_is_a_cost_row() -> None:
    with serve({"source": str(sample("focus_1_2_cost_and_usage_aws.csv"))}) as served:
        assert served.exporter.poll_once()
        first = httpx.get(f"{served.url}/metrics", timeout=30).content
        second = httpx.get(f"{served.url}/metrics", timeout=30).content
        own = httpx.get(f"{served.url}/metrics/self", timeout=30).text
    assert first == second  # Krateo waits for two downloads of equal size
    rows = krateo_rows(first.decode())
    assert len(rows) == 2000
    assert all(kind == "gauge" and labels for labels, _, kind in rows)
    assert {"focusflow_exporter_rows", "focusflow_exporter_fetches"} <= {
        family.name for family in text_string_to_metric_families(own)}
