"""A run's queries are asked ahead of their use (``allocation/ahead.py``), on the real
``ksm_prometheus`` history: in the run's order, the first ones before ``focusflow allocate``
loads DuckDB, Arrow or boto3 (without billing rows; a bad billing report fails before
Prometheus is asked), nothing asked once the queue is closed, and the rows the same as a run
that opened its own queue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from fixtures.prometheus import PrometheusServer
from focusflow.allocation import (
    ClusterMetrics,
    allocation_settings,
    prometheus_settings,
    read_billing_file,
    run_allocation,
)
from focusflow.allocation import metrics as queries
from focusflow.allocation.ahead import INPUTS, OWNERS, Ahead
from focusflow.errors import SourceError
from focusflow.k8s_export import PrometheusClient
from focusflow.sinks import open_sink
from integration.allocation.test_allocate_ksm import (  # the same window and billing rows
    END,
    START,
    _day,
    billing_file,
    run_main,
)

pytestmark = pytest.mark.integration

FOCUSFLOW_MAIN = (
    "import json, sys\n"
    "out = sys.argv.pop(1)\n"
    "from focusflow.allocation import ahead\n"
    "opened = ahead.Ahead.__init__\n"
    "def noting(self, *args):\n"
    "    opened(self, *args)\n"  # the queue's first queries are asked from here on
    "    heavy = ('duckdb', 'pyarrow', 'boto3', 'focusflow.allocation.job')\n"
    "    open(out, 'w').write(json.dumps([m for m in heavy if m in sys.modules]))\n"
    "ahead.Ahead.__init__ = noting\n"
    "sys.argv[0] = 'focusflow'\n"
    "from focusflow.__main__ import main\n"
    "main()\n"
)
# The k8s_allocation rows but what tells one load from another.
ROWS = ('SELECT * EXCLUDE ("_focusflow_load_id") FROM {table} '
        'ORDER BY "ChargePeriodStart", "x_Cluster", "x_Node", "x_Namespace", "x_Pod", '
        '"x_Container"')


def _rows(db: Path) -> list[dict[str, Any]]:
    sink = open_sink(f"duckdb:///{db}")
    try:
        return sink.query("k8s_allocation", ROWS).to_pylist()
    finally:
        sink.close()


def _settings() -> Any:
    return allocation_settings(start=_day(START), end=_day(END), chunk_hours=6)


def test_the_cli_asks_before_loading_duckdb_and_arrow_and_loads_what_run_allocation_does(
        ksm_prometheus: PrometheusServer, tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    listing = tmp_path / "heavy.json"
    done = subprocess.run(
        [sys.executable, "-c", FOCUSFLOW_MAIN, str(listing), "allocate", "--prometheus",
         ksm_prometheus.url, "--start", START, "--end", END, "--chunk-hours", "6",
         "--resolution", "60", "--db", f"duckdb:///{db}"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "COLUMNS": "200", "MAX_ATTEMPTS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(listing.read_text()) == []  # none of them was imported yet
    # The same window through run_allocation, which opens its own queue.
    settings = _settings()
    endpoint = prometheus_settings(prometheus_url=ksm_prometheus.url)
    client = PrometheusClient(endpoint)
    own = tmp_path / "own.duckdb"
    sink = open_sink(f"duckdb:///{own}")
    try:
        run_allocation(settings, ClusterMetrics(client, resolution=60, cluster_label="cluster",
                                                default_cluster="default"),
                       None, sink, base_url=endpoint.base_url)
    finally:
        sink.close()
        client.close()
    expected = _rows(own)
    assert len(expected) > 100
    assert _rows(db) == expected


class Recording:
    """The real client, noting each range query (its PromQL and span) as it is asked."""

    def __init__(self, client: PrometheusClient) -> None:
        self.client = client
        self.asked: list[tuple[str, int, int]] = []

    def check(self) -> None:
        self.asked.append(("check", 0, 0))
        self.client.check()

    def query_range(self, query: str, start: int, end: int, step: int) -> Any:
        self.asked.append((query, start, end))
        return self.client.query_range(query, start, end, step)


def test_queries_are_asked_in_the_runs_order_with_the_billing_periods_beyond_the_window(
        env: None, ksm_prometheus: PrometheusServer, tmp_path: Path) -> None:
    settings = _settings()
    endpoint = prometheus_settings(prometheus_url=ksm_prometheus.url)
    client = PrometheusClient(endpoint)
    recording = Recording(client)
    metrics = ClusterMetrics(recording,  # type: ignore[arg-type] - the client's two calls
                             resolution=60, cluster_label="cluster", default_cluster="default")
    index = read_billing_file(str(billing_file(tmp_path / "bill.csv")), settings.start_s,
                              settings.end_s, settings.cost_column)
    sink = open_sink(f"duckdb:///{tmp_path / 'a.duckdb'}")
    try:
        run_allocation(settings, metrics, index, sink, base_url=endpoint.base_url)
    finally:
        sink.close()
        client.close()

    def node(start: str, end: str) -> tuple[str, int, int]:
        first, last = _day(start).timestamp(), _day(end).timestamp()
        return queries.NODE_Q.format(c="cluster", r=60), int(first) + 3599, int(last) - 1

    def chunk(start: str, end: str, names: tuple[str, ...]) -> list[tuple[str, int, int]]:
        first, last = _day(start).timestamp(), _day(end).timestamp()
        return [(queries.CHUNK_TEMPLATES[queries.NAMES.index(name)].format(c="cluster", r=60),
                 int(first) + 3599, int(last) - 1) for name in names]

    first, second = (START, "2025-11-01T00:00:00Z"), ("2025-11-01T00:00:00Z", END)
    # The node presence covers the billing days (Oct 31 and Nov 1), not just the window;
    # each chunk's owners are asked after the next chunk's model inputs.
    assert recording.asked == [
        ("check", 0, 0), node("2025-10-31T00:00:00Z", "2025-11-02T00:00:00Z"),
        *chunk(*first, INPUTS), *chunk(*second, INPUTS), *chunk(*first, OWNERS),
        *chunk(*second, OWNERS)]
    assert set(INPUTS) | set(OWNERS) == set(queries.NAMES)


def test_a_bad_billing_report_fails_before_prometheus_is_asked(
        env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on port 9: a query would be a "cannot reach" error or a retry warning.
    code, _, err = run_main(monkeypatch, capsys, "--prometheus", "http://127.0.0.1:9",
                            "--start", START, "--end", END, "--billing",
                            str(tmp_path / "missing.csv"),
                            "--db", f"duckdb:///{tmp_path / 'a.duckdb'}")
    assert code == 2  # unreadable input, as ingest says it
    (line,) = err.strip().splitlines()
    assert "missing.csv" in line
    assert not (tmp_path / "a.duckdb").exists()
    assert [t for t in threading.enumerate() if t.name.startswith("allocation-queries")] == []


def test_a_closed_queue_asks_nothing(ksm_prometheus: PrometheusServer) -> None:
    settings = _settings()
    client = PrometheusClient(prometheus_settings(prometheus_url=ksm_prometheus.url))
    recording = Recording(client)
    metrics = ClusterMetrics(recording,  # type: ignore[arg-type] - the client's two calls
                             resolution=60, cluster_label="cluster", default_cluster="default")
    try:
        ahead = Ahead(metrics, settings)
        ahead.close()
        asked = len(recording.asked)
        assert asked <= 2  # the check, and at most the query in flight when it closed
        with pytest.raises(RuntimeError, match="shutdown"):
            ahead.ask(1, INPUTS)
        assert len(recording.asked) == asked
    finally:
        client.close()


def test_an_unreachable_endpoint_fails_at_the_check(env: None, tmp_path: Path) -> None:
    settings = _settings()
    client = PrometheusClient(prometheus_settings(prometheus_url="http://127.0.0.1:9"))
    sink = open_sink(f"duckdb:///{tmp_path / 'a.duckdb'}")
    try:
        with pytest.raises(SourceError, match="cannot reach Prometheus"):
            run_allocation(settings, ClusterMetrics(client, resolution=60,
                                                    cluster_label="cluster",
                                                    default_cluster="default"),
                           None, sink, base_url="http://127.0.0.1:9")
    finally:
        sink.close()
        client.close()
