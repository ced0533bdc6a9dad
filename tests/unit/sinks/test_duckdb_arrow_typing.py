"""DuckDB's text fast path gets its decimals and date-times typed by the Arrow authority.

The read-ahead thread types them with ``focus.conversion`` itself (``arrow_typing.py``), so
DuckDB's one typing thread only stores them. Pinned here on the repository's real FOCUS
samples (every conformant sample in examples/ and tests/data): the
typed columns are the authority's, to the value; a value the authority refuses, or a decimal
with an exponent, in a LATER batch refuses the whole load with nothing committed, and the
public entry point then loads exactly what the typed path loads or names the row.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pytest

from fixtures.fast_path import in_order, load
from fixtures.paths import EXAMPLES, sample_files
from focusflow.errors import InputError
from focusflow.focus import FocusReader
from focusflow.focus.catalogue import DataType
from focusflow.focus.conversion import convert_batch
from focusflow.ingest import IngestOptions, ingest
from focusflow.sinks import LoadRequest, TextRows, TextRowsRefused, open_sink
from focusflow.sinks.duckdb.arrow_typing import incoming_schema, typed_batches, typed_by_arrow

AZURE = EXAMPLES / "focus_1_2_cost_and_usage_azure.csv"


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_typed_columns_are_the_authoritys_own(path: Path) -> None:
    with FocusReader(str(path)) as reader:
        layout = reader.layout
        texts = list(reader.text_batches())
    names = [f"c{i}" for i in range(len(layout.columns))]
    schema = incoming_schema(layout, names)
    typed_kinds = {c.catalogue.data_type for c in layout.columns if typed_by_arrow(c)}
    assert DataType.DECIMAL in typed_kinds <= {DataType.DECIMAL, DataType.DATETIME, DataType.JSON}
    authority = [convert_batch(t, layout, file=path.name, first_row=1) for t in texts]
    fast = list(typed_batches(texts, layout, schema))
    assert len(fast) == len(authority)
    for ours, theirs in zip(fast, authority, strict=True):
        for index, column in enumerate(layout.columns):
            if typed_by_arrow(column):
                assert ours.column(index).equals(theirs.column(index)), column.name
                assert ours.schema.field(index).type == theirs.schema.field(index).type
            else:  # the rest stays text for DuckDB's guarded casts
                assert ours.schema.field(index).type == pa.string()


def many_rows_with(tmp_path: Path, copies: int, column: str, row: int, value: str) -> Path:
    """The Azure sample copied ``copies`` times, ``column`` of data row ``row`` set to
    ``value`` (far enough down to sit in a later batch than the first)."""
    with AZURE.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:] * copies
    body[row - 1] = list(body[row - 1])
    body[row - 1][header.index(column)] = value
    path = tmp_path / "big.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *body])
    return path


@pytest.mark.parametrize(("column", "value"), [
    ("ChargePeriodStart", "2024-02-30T00:00:00Z"),  # the authority refuses it
    ("BilledCost", "1.5E-7"),  # the authority loads it; the fast path defers, as before
])
def test_a_refusal_in_a_later_batch_commits_nothing(
    tmp_path: Path, column: str, value: str
) -> None:
    row = 4_900
    path = many_rows_with(tmp_path, 3, column, row, value)
    db = tmp_path / "f.duckdb"
    sink = open_sink(f"duckdb:///{db}")
    try:
        ingest(str(AZURE), sink, IngestOptions(source_id="earlier"))
        before = in_order(sink.read_table("focus"))
        pulled: list[int] = []
        with FocusReader(str(path)) as reader:
            def counted():  # type: ignore[no-untyped-def]
                for batch in reader.text_batches():
                    pulled.append(batch.num_rows)
                    yield batch

            request = LoadRequest("focus", "s", reader.schema, [], None,
                                  text=TextRows(reader.layout, counted()))
            with pytest.raises(TextRowsRefused):
                sink.load(request)
        assert pulled[0] < row <= sum(pulled), "the bad row was read, in a later batch"
        assert in_order(sink.read_table("focus")).equals(before)
    finally:
        sink.close()
    # The public entry point (fast path refused, then the typed path): what the typed path
    # does, to the row.
    try:
        typed: pa.Table | InputError = load(path, tmp_path / "typed.duckdb", fast=False)
    except InputError as exc:
        assert exc.row == row and exc.column == column
        typed = exc
    public = open_sink(f"duckdb:///{tmp_path / 'public.duckdb'}")
    try:
        ingest(str(path), public, IngestOptions(source_id="s"))
    except InputError as exc:
        assert isinstance(typed, InputError) and str(exc) == str(typed)
    else:
        assert value == "1.5E-7"
        assert in_order(public.read_table("focus")).equals(typed)
    finally:
        public.close()
