"""``allocate`` streams per chunk (issue 16): the sink's load pulls each hour's rows as they are
computed, so what a run holds does not grow with the window, and the one-load guarantees hold.

All on the real ``ksm_prometheus`` history (two clusters, 12 hours, one sample a minute) and real
DuckDB / PostgreSQL sinks. ``Pulled`` wraps a real sink only to watch the stream: the rows and
the Arrow memory alive each time the sink pulls a batch.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fixtures.ksm_history import copy_tsdb, start_prometheus
from fixtures.net import stop
from fixtures.prometheus import PrometheusServer
from focusflow.allocation import (
    AllocationReport,
    ClusterMetrics,
    allocation_settings,
    prometheus_settings,
    run_allocation,
)
from focusflow.allocation.job import HourProgress
from focusflow.allocation.rows import ChunkRows
from focusflow.errors import SourceError
from focusflow.k8s_export import PrometheusClient
from focusflow.sinks import LoadRequest, LoadResult, Sink, open_sink

pytestmark = pytest.mark.integration

WINDOW_START = datetime(2025, 10, 31, 18, tzinfo=UTC)
TABLE = "k8s_allocation"
# Refused, or a query it was answering while it stopped ("block is closing").
DOWN = r"cannot reach Prometheus|query_range: HTTP"
EVERY_COLUMN = ('SELECT * FROM {table} ORDER BY "ChargePeriodStart", "x_Cluster", "x_Node", '
                '"x_Namespace", "x_Pod", "x_Container"')


@dataclass
class Pulled:
    """A real sink whose load's batch stream is watched: rows pulled so far, and at each pull
    the rows the run had built but the sink not yet taken (``built`` counts what
    ``ChunkRows.table`` returned, when the test wraps it)."""

    sink: Sink
    rows: int = 0
    built: int = 0
    buffered: list[int] = field(default_factory=list)
    collect: bool = False  # collect garbage at each pull: a heap peak then counts live objects
    name: str = "watched"

    def _watch(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            self.buffered.append(self.built - self.rows)
            self.rows += batch.num_rows
            if self.collect:
                gc.collect()
            yield batch

    def load(self, request: LoadRequest) -> LoadResult:
        request.batches = self._watch(iter(request.batches))
        return self.sink.load(request)

    def query(self, table: str, sql: str, params: Sequence[object] = ()) -> pa.Table:
        return self.sink.query(table, sql, params)

    def read_table(self, table: str) -> pa.Table:
        return self.sink.read_table(table)

    def close(self) -> None:
        self.sink.close()


def allocate(url: str, sink: Sink, hours: int, progress: HourProgress | None = None, *,
             skip: int = 0, **values: Any) -> AllocationReport:
    """The ``hours`` hours starting ``skip`` hours into the history."""
    first = WINDOW_START.timestamp() + skip * 3600
    settings = allocation_settings(
        start=datetime.fromtimestamp(first, UTC),
        end=datetime.fromtimestamp(first + hours * 3600, UTC), **values)
    endpoint = prometheus_settings(prometheus_url=url)
    client = PrometheusClient(endpoint)
    try:
        metrics = ClusterMetrics(client, resolution=60, cluster_label="cluster",
                                 default_cluster="default")
        return run_allocation(settings, metrics, None, sink, base_url=endpoint.base_url,
                              progress=progress)
    finally:
        client.close()


def test_what_a_run_holds_does_not_grow_with_the_number_of_chunks(
        env: None, ksm_prometheus: PrometheusServer, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """1-hour chunks: the 12 hours as one run of 12 chunks vs the 6 runs of 2 chunks that
    cover them (a run holds the chunk it models and the next one, asked ahead). When the sink
    pulls a batch, the rows built and not yet taken are that batch's alone (before streaming:
    all 204 rows of the run at the first pull), and the Python heap peak is no higher than the
    largest of the 2-chunk runs'."""
    caplog.set_level("ERROR", logger="focusflow")  # the harness would keep every warning
    watching: list[Pulled] = []

    table = ChunkRows.table

    def counted(*args: Any) -> pa.Table:
        rows = table(*args)
        watching[-1].built += rows.num_rows
        return rows

    monkeypatch.setattr(ChunkRows, "table", counted)

    def measure(name: str, hours: int, skip: int) -> tuple[Pulled, int]:
        sink = Pulled(open_sink(f"duckdb:///{tmp_path / name}.duckdb"), collect=True)
        watching.append(sink)
        gc.collect()
        tracemalloc.start()
        try:
            report = allocate(ksm_prometheus.url, sink, hours, skip=skip, chunk_hours=1)
            python_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            sink.close()
        assert report.load is not None and report.load.rows_written == sink.rows > 0
        return sink, python_peak

    measure("warm-up", 2, 0)  # imports and caches
    singles = [measure(f"part-{skip}", 2, skip) for skip in range(0, 12, 2)]
    whole, python_peak = measure("whole", 12, 0)
    assert whole.rows == sum(part.rows for part, _ in singles) > 12 * 12
    assert 0 < max(whole.buffered) <= max(max(part.buffered) for part, _ in singles)
    assert python_peak < 1.5 * max(peak for _, peak in singles)


def test_a_run_failing_after_its_first_chunk_commits_nothing_and_keeps_the_previous_load(
        env: None, ksm_tsdb: Path, tmp_path: Path, postgres_url: str) -> None:
    """Three 4-hour chunks; the Prometheus goes away while the sink pulls the first chunk's
    last hour (the run asks for the second chunk ahead, so the third, at the latest, fails):
    the load was open and had rows, and it commits none of them (DuckDB and PostgreSQL)."""
    server = start_prometheus(tmp_path, copy_tsdb(ksm_tsdb, tmp_path / "tsdb"))
    sinks = [open_sink(f"duckdb:///{tmp_path / 'alloc.duckdb'}"), open_sink(postgres_url)]
    try:
        before = []
        for sink in sinks:
            first = allocate(server.url, sink, 12, chunk_hours=4, by="pod")
            assert first.load is not None and first.load.rows_written > 0
            before.append(sink.query(TABLE, EVERY_COLUMN))

        def stop_after_first_chunk(done: int, _total: int) -> None:
            if done == 4:
                stop(server.process)

        watched = Pulled(sinks[0])
        with pytest.raises(SourceError, match=DOWN):
            allocate(server.url, watched, 12, stop_after_first_chunk, chunk_hours=4, by="pod")
        assert watched.rows > 0  # the first chunk's rows were in the open load
        server = start_prometheus(tmp_path, tmp_path / "tsdb")
        watched = Pulled(sinks[1])
        with pytest.raises(SourceError, match=DOWN):
            allocate(server.url, watched, 12, stop_after_first_chunk, chunk_hours=4, by="pod")
        assert watched.rows > 0
        for sink, rows in zip(sinks, before, strict=True):
            assert sink.query(TABLE, EVERY_COLUMN).equals(rows)
            loads = sink.query("_focusflow_loads", "SELECT count(*) AS n FROM {table}")
            assert loads.to_pylist() == [{"n": 1}]
    finally:
        for sink in sinks:
            sink.close()
        stop(server.process)


def test_streamed_rows_equal_the_whole_window_computed_at_once(
        env: None, ksm_prometheus: PrometheusServer, tmp_path: Path) -> None:
    """One chunk (every query answered before the first row) vs a chunk per hour vs uneven
    5-hour chunks: the same rows, to the last digit, for every granularity."""
    for by in ("container", "namespace"):
        tables = []
        for chunk_hours in (12, 1, 5):
            sink = open_sink(f"duckdb:///{tmp_path / f'{by}-{chunk_hours}.duckdb'}")
            try:
                report = allocate(ksm_prometheus.url, sink, 12, chunk_hours=chunk_hours, by=by)
                assert report.load is not None and report.load.rows_written > 0
                tables.append(sink.query(
                    TABLE, EVERY_COLUMN.replace("*", "* EXCLUDE (_focusflow_load_id)")))
            finally:
                sink.close()
        assert tables[1].equals(tables[0]) and tables[2].equals(tables[0])
