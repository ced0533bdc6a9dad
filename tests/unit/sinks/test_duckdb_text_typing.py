"""DuckDB's fast path (typing text rows in the database) agrees with the Arrow authority.

The invariant: for any value, the fast path either loads exactly what the typed path loads,
or refuses (``TextRowsRefused``) so the caller can fall back. It must never load a value the
typed path rejects, nor load a value differently (rounding, leniency).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from fixtures.fast_path import in_order, load, outcome
from fixtures.paths import EXAMPLES, sample_files
from focusflow.errors import InputError
from focusflow.focus import FocusReader
from focusflow.ingest import IngestOptions, ingest
from focusflow.sinks import LoadRequest, TextRows, TextRowsRefused, open_sink

TEMPLATE = EXAMPLES / "focus_1_2_cost_and_usage_azure.csv"

# Values the fast path must take (no detour) and values where it must defer to Arrow.
PLAIN = {
    "BilledCost": ["0", "12.5", "-0.000000000000000001", ".5", "5.", "+7",
                   "12345678901234567890.123456789012345678"],
    "ChargePeriodStart": ["2024-01-01T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-31",
                          "2024-01-01T10:20:30.123456Z", "2024-01-01T00:00:00+01:00",
                          "2024-01-01T00:00:00", "2024-01-01T00:00Z", "2024-01-01T00:00:00-0530"],
    "Tags": ['{"a": "b"}', "{}", '{"n": 1.5, "nested": {"x": [1, 2]}}', '{"k": "NaN-ish"}'],
    "ChargeCategory": ["Usage", "Purchase", "Tax", "Credit", "Adjustment"],
}
TRICKY = {
    "BilledCost": ["1e3", "1.5E-7", " 12 ", "0.1234567890123456789", "0.1234567890123456780",
                   "123456789012345678901", "NaN", "inf", "1,000", "1_000", "0x10", "abc"],
    "ChargePeriodStart": ["2024-01-01T00:00:00.1234567Z", "2024-01-01T24:00:00Z",
                          "2024-02-30T00:00:00Z", " 2024-01-01T00:00:00Z",
                          "2024-01-01T00:00:00 UTC", "2024-01-01T00:00:00z", "2024-1-1",
                          "infinity", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:60Z",
                          "2024-01-01Z", "yesterday"],
    "Tags": ['{"a": NaN}', '{"a": 1,}', '{"a": Infinity}', '{"a": 1e999}', "[1]", '"text"',
             "{a: 1}", '{"a": 1} x', '{"a": -inf}', "not json", ' {"a": 1}', '{"a": "x\ty"}',
             '{"a": 1', '{"a": "\\ud800"}', '{"a": 1}}'],
    "ChargeCategory": ["usage", "Usage ", "Refund"],
}


def one_row_file(tmp_path: Path, column: str, value: str) -> Path:
    with TEMPLATE.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header, row = next(reader), next(reader)
    row[header.index(column)] = value
    path = tmp_path / f"{column}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, row])
    return path





def both_paths(
    tmp_path: Path, column: str, value: str
) -> tuple[Path, pa.Table | str, pa.Table | str]:
    """A one-row file with ``value`` in ``column``, loaded by the fast path and by Arrow."""
    path = one_row_file(tmp_path, column, value)
    return (path, outcome(path, tmp_path / "fast.duckdb", fast=True),
            outcome(path, tmp_path / "typed.duckdb", fast=False))


@pytest.mark.parametrize(("column", "value"), [(c, v) for c, vs in PLAIN.items() for v in vs])
def test_plain_values_take_the_fast_path_and_load_as_typed(
    tmp_path: Path, column: str, value: str
) -> None:
    _, fast, typed = both_paths(tmp_path, column, value)
    assert isinstance(typed, pa.Table), typed
    assert isinstance(fast, pa.Table), fast
    assert fast.equals(typed)


@pytest.mark.parametrize(("column", "value"), [(c, v) for c, vs in TRICKY.items() for v in vs])
def test_tricky_values_are_never_loaded_differently(
    tmp_path: Path, column: str, value: str
) -> None:
    path, fast, typed = both_paths(tmp_path, column, value)
    if isinstance(fast, pa.Table):
        assert isinstance(typed, pa.Table), f"fast path loaded what Arrow rejects: {typed}"
        assert fast.equals(typed)
    else:
        assert fast == "refused"
    # Whatever the fast path did, the public entry point ends like the authority.
    sink = open_sink(f"duckdb:///{tmp_path / 'public.duckdb'}")
    try:
        ingest(str(path), sink, IngestOptions(source_id="s"))
    except InputError as exc:
        assert typed == f"error: {exc}"
        assert exc.row == 1 and exc.column == column
    else:
        assert isinstance(typed, pa.Table)
        assert in_order(sink.read_table("focus")).equals(typed)
    finally:
        sink.close()


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_sample_loads_on_the_fast_path_exactly_as_typed(tmp_path: Path, path: Path) -> None:
    fast = load(path, tmp_path / "fast.duckdb", fast=True)  # a refusal would raise here
    typed = load(path, tmp_path / "typed.duckdb", fast=False)
    assert fast.num_rows > 0
    assert fast.equals(typed)


def _settings(sink) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    # A second connection to the same database: the first is busy with the load's INSERT.
    rows = sink._con.cursor().execute(
        "SELECT current_setting('threads'), current_setting('memory_limit')").fetchall()
    return int(rows[0][0]), str(rows[0][1])


@pytest.mark.parametrize("value", ["12.5", "1e3"], ids=["loaded", "refused"])
def test_duckdb_leaves_half_the_cores_to_the_csv_parser_while_it_pulls_rows(
    tmp_path: Path, value: str
) -> None:
    """While DuckDB types Python-fed text rows it runs on half the cores (Arrow parses on the
    others) with a bounded buffer pool (one thread would otherwise keep every row group it
    wrote: peak RSS grew 1.57x with twice the rows); both settings are back to DuckDB's
    defaults after the load, loaded or refused."""
    path = one_row_file(tmp_path, "BilledCost", value)
    sink = open_sink(f"duckdb:///{tmp_path / 'f.duckdb'}")
    try:
        threads, memory = _settings(sink)
        seen: list[tuple[int, str]] = []
        with FocusReader(str(path)) as reader:
            def batches() -> Iterator[pa.RecordBatch]:
                for batch in reader.text_batches():
                    seen.append(_settings(sink))
                    yield batch

            request = LoadRequest("focus", "s", reader.schema, [], None,
                                  text=TextRows(reader.layout, batches()))
            try:
                sink.load(request)
            except TextRowsRefused:
                assert value == "1e3"
            else:
                assert value == "12.5"
        assert len(seen) == 1
        assert seen[0][0] == max(1, threads // 2)
        assert seen[0][1] != memory  # capped (DuckDB prints the cap in its own units)
        assert _settings(sink) == (threads, memory)
    finally:
        sink.close()
