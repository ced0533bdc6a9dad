"""A load skipped by its known fingerprint leaves the DuckDB connection usable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from focusflow.focus import TIMESTAMP
from focusflow.sinks import LoadRequest, open_sink


def test_skip_by_known_fingerprint_then_query(tmp_path: Path) -> None:
    sink = open_sink(f"duckdb:///{tmp_path / 'k.duckdb'}")
    try:
        schema = pa.schema([pa.field("BillingPeriodStart", TIMESTAMP), pa.field("x", pa.string())])
        batch = pa.record_batch([pa.array([datetime(2026, 5, 1, tzinfo=UTC)], TIMESTAMP),
                                 pa.array(["a"])], schema=schema)
        for _ in range(2):
            result = sink.load(LoadRequest("t", "src", schema, [batch],
                                           known_fingerprint="run-1"))
        assert result.unchanged
        assert sink.query("t", "SELECT COUNT(*) AS n FROM {table}").to_pylist() == [{"n": 1}]
    finally:
        sink.close()
