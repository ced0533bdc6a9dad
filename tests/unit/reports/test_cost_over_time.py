"""Cost over time: the daily series add up to the table's cost, and the chart is a real PNG."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from fixtures.paths import EXAMPLES
from focusflow.errors import ConfigError
from focusflow.focus import FocusReader
from focusflow.reports import daily_cost, plot_cost
from focusflow.reports.cost_over_time import OTHER
from focusflow.sinks import LoadRequest
from focusflow.sinks.memory import MemorySink


@pytest.fixture(scope="module")
def sink() -> MemorySink:
    sink = MemorySink()
    for path in sorted(EXAMPLES.glob("*.csv")):
        with FocusReader(str(path)) as reader:
            sink.load(LoadRequest("focus", str(path), reader.schema, reader.batches()))
    return sink


def test_series_add_up_to_the_table_total(sink: MemorySink) -> None:
    [series] = daily_cost(sink, "focus", by="ServiceName", top=3)
    table = sink.read_table("focus")
    expected = sum(table.column("EffectiveCost").to_pylist(), Decimal(0))
    assert series.currency == "USD"
    assert series.total == expected
    assert list(series.series)[-1] == OTHER
    assert len(series.series) == 4
    assert series.days == sorted(series.days)
    totals = [sum(v) for name, v in series.series.items() if name != OTHER]
    assert totals == sorted(totals, reverse=True)


def test_unknown_column_is_refused(sink: MemorySink) -> None:
    with pytest.raises(ConfigError, match="unknown column"):
        daily_cost(sink, "focus", by="1; drop table focus")


def test_chart_is_written(sink: MemorySink, tmp_path: Path) -> None:
    [series] = daily_cost(sink, "focus", by="SubAccountName")
    out = plot_cost(series, tmp_path / "chart.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000
    assert isinstance(sink.tables["focus"], pa.Table)
