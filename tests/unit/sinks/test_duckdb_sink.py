"""The DuckDB sink's loading semantics on small in-memory batches."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from focusflow.errors import InputError
from focusflow.focus import DECIMAL, TIMESTAMP
from focusflow.sinks import LoadRequest, open_sink

SCHEMA = pa.schema([
    pa.field("BillingPeriodStart", TIMESTAMP), pa.field("BillingCurrency", pa.string()),
    pa.field("BilledCost", DECIMAL), pa.field("EffectiveCost", DECIMAL),
])
MAY, JUNE = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)


def rows(*values: tuple[datetime, str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [{"BillingPeriodStart": p, "BillingCurrency": "USD", "BilledCost": Decimal(c),
          "EffectiveCost": Decimal(c)} for p, c in values], schema=SCHEMA)


def load(sink, source: str, batch: pa.RecordBatch, fingerprint: str):  # type: ignore[no-untyped-def]
    return sink.load(LoadRequest("focus", source, SCHEMA, [batch], lambda: fingerprint))


def costs(sink) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    table = sink.query("focus", 'SELECT "_focusflow_source", CAST("BilledCost" AS VARCHAR) '
                       "FROM {table} ORDER BY 1, 2")
    return [tuple(r.values()) for r in table.to_pylist()]  # type: ignore[misc]


@pytest.fixture
def sink(tmp_path: Path):  # type: ignore[no-untyped-def]
    sink = open_sink(f"duckdb:///{tmp_path / 'f.duckdb'}")
    yield sink
    sink.close()


def test_reload_replaces_only_the_same_source_and_periods(sink) -> None:  # type: ignore[no-untyped-def]
    load(sink, "a", rows((MAY, "1"), (JUNE, "2")), "v1")
    load(sink, "b", rows((MAY, "10")), "b1")
    result = load(sink, "a", rows((MAY, "3")), "v2")
    assert result.rows_written == 1
    assert result.rows_replaced == 1
    assert costs(sink) == [("a", "2.000000000000000000"), ("a", "3.000000000000000000"),
                           ("b", "10.000000000000000000")]


def test_identical_reload_changes_nothing(sink) -> None:  # type: ignore[no-untyped-def]
    load(sink, "a", rows((MAY, "1")), "same")
    before = sink.query("focus", 'SELECT "_focusflow_load_id" FROM {table}').to_pylist()
    result = load(sink, "a", rows((MAY, "1")), "same")
    assert result.unchanged
    assert sink.query("focus", 'SELECT "_focusflow_load_id" FROM {table}').to_pylist() == before


def test_failed_load_commits_nothing(sink) -> None:  # type: ignore[no-untyped-def]
    load(sink, "a", rows((MAY, "1")), "v1")

    def failing():  # type: ignore[no-untyped-def]
        yield rows((MAY, "5"))
        raise InputError("bad row", file="f.csv", row=7)

    with pytest.raises(InputError, match="row 7"):
        sink.load(LoadRequest("focus", "a", SCHEMA, failing(), lambda: "v2"))
    assert costs(sink) == [("a", "1.000000000000000000")]


def test_new_custom_columns_are_added(sink) -> None:  # type: ignore[no-untyped-def]
    load(sink, "a", rows((MAY, "1")), "v1")
    wider = SCHEMA.append(pa.field("x_New", pa.string()))
    batch = pa.RecordBatch.from_pylist([{"BillingPeriodStart": JUNE, "BillingCurrency": "USD",
                                         "BilledCost": Decimal(2), "EffectiveCost": Decimal(2),
                                         "x_New": "hello"}], schema=wider)
    sink.load(LoadRequest("focus", "a", wider, [batch], lambda: "v2"))
    table = sink.read_table("focus")
    assert table.column_names[-1] == "x_New"
    assert sorted(table.column("x_New").to_pylist(), key=str) == [None, "hello"]
