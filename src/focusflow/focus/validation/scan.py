"""One pass over a FOCUS file: every row-level check as one DuckDB aggregate query.

Model layer. The file is read as raw text (never inferred types, so an account id stays a string
and a bad value cannot crash the reader) through the project's streaming readers
(``focus/formats.py``: CSV, gzip, Parquet, JSON from any location of ``focus/locations.py``).
Each Arrow batch gets a ``__row`` column (data rows from 1) and is fed to DuckDB as a stream, so
memory stays bounded by a batch whatever the file's size. Each check is a SQL predicate that is
true on an offending row; the query computes, per check, ``count(*) FILTER (WHERE p)`` and the
first row numbers with ``min(__row, N) FILTER (WHERE p)`` — one scan for all rules.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from focusflow.errors import FocusflowError, InputError
from focusflow.focus.formats import TextBatches, open_text_batches
from focusflow.focus.locations import HttpOptions, open_location
from focusflow.focus.schema import Layout, resolve_header
from focusflow.focus.streams import PrefixedStream

ROW = "__row"


def q(name: str) -> str:
    """A SQL identifier, quoted (column names come from files and may hold anything)."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class RowCheck:
    """A row-level check: ``violation`` is a SQL predicate true on each offending row.

    ``count_sql`` replaces the per-row count for set-level checks (e.g. distinct counts), which
    then have no row numbers.
    """

    key: str
    violation: str = ""
    count_sql: str = ""


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    count: int
    rows: tuple[int, ...]


@dataclass
class ScanResult:
    rows: int
    outcomes: dict[str, CheckOutcome]


@dataclass
class OpenedFile:
    """A file opened for validation: its display name, resolved layout and text batches."""

    name: str
    layout: Layout
    text: TextBatches
    close: Callable[[], None]


def open_for_validation(
    uri: str, *, http: HttpOptions | None = None, focus_version: str | None = None
) -> OpenedFile:
    """Open ``uri`` as text batches and resolve its header (missing columns are findings here)."""
    opened = open_location(uri, http)
    try:
        text = open_text_batches(opened.stream, file=opened.display)
        layout = resolve_header(text.header, file=opened.display, version=focus_version,
                                require_mandatory=False)
    except BaseException:
        opened.close()
        raise
    return OpenedFile(opened.display, layout, text, opened.close)


def locate_ragged_row(
    uri: str, error: InputError, *, http: HttpOptions | None = None
) -> InputError:
    """``error`` with its row number, found by re-reading the file serially when unknown.

    A parallel CSV parser cannot tell which row had the wrong number of fields; on this error
    path only, a streaming ``csv`` pass (constant memory) finds the first such row.
    """
    if error.row is not None or "fields" not in error.reason:
        return error
    opened = open_location(uri, http)
    try:
        stream = opened.stream
        head = stream.read(2)
        body: Any = gzip.GzipFile(fileobj=PrefixedStream(head, stream)) if head == b"\x1f\x8b" \
            else PrefixedStream(head, stream)
        text = io.TextIOWrapper(io.BufferedReader(body), encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        width = len(next(reader, []))
        for number, row in enumerate(reader, start=1):
            if len(row) != width:
                return InputError(error.reason, file=error.file, row=number, column=error.column)
    except (OSError, UnicodeDecodeError, csv.Error):
        return error
    finally:
        opened.close()
    return error


def run_checks(
    text: TextBatches, layout: Layout, checks: Sequence[RowCheck], *, file: str, first_n: int = 10
) -> ScanResult:
    """Run every check over the file in one scan; raises ``InputError`` for unreadable input."""
    failure: list[BaseException] = []
    reader = _row_numbered(text, failure)
    selects = ["count(*)"]
    for check in checks:
        if check.count_sql:
            selects += [f"({check.count_sql})", "NULL"]
        else:
            predicate = f"coalesce(({check.violation}), false)"
            selects += [f"count(*) FILTER (WHERE {predicate})",
                        f"min({ROW}, {int(first_n)}) FILTER (WHERE {predicate})"]
    projection = ", ".join(
        [f"nullif({q(c.source_name)}, '') AS {q(c.name)}" for c in layout.columns] + [ROW]
    )
    sql = f"SELECT {', '.join(selects)} FROM (SELECT {projection} FROM raw_input) AS src"
    con = duckdb.connect(config={"threads": 2})
    try:
        con.register("raw_input", reader)
        result = con.execute(sql).fetchone()
    except duckdb.Error as exc:
        if failure:
            raise failure[0] from None
        raise InputError(f"cannot be validated: {str(exc).splitlines()[0]}", file=file) from exc
    finally:
        con.close()
    if failure:
        raise failure[0]
    if result is None:  # an aggregate without GROUP BY always returns one row
        raise InputError("the validation query returned nothing", file=file)
    outcomes: dict[str, CheckOutcome] = {}
    for index, check in enumerate(checks):
        count, rows = result[1 + 2 * index], result[2 + 2 * index]
        outcomes[check.key] = CheckOutcome(int(count or 0), tuple(rows or ()))
    return ScanResult(int(result[0]), outcomes)


def _row_numbered(text: TextBatches, failure: list[BaseException]) -> pa.RecordBatchReader:
    """The text batches with a ``__row`` column; read errors are kept for the caller to raise.

    DuckDB pulls the stream; an exception inside it would surface as an opaque DuckDB error, so
    we store it, end the stream, and raise the original after the query.
    """
    batches = iter(text.batches)
    first = next(batches, None)
    fields = [pa.field(name, pa.string()) for name in text.header]
    schema = pa.schema([*fields, pa.field(ROW, pa.int64())])

    def numbered() -> Iterator[pa.RecordBatch]:
        offset = 0
        try:
            for batch in itertools.chain([first] if first is not None else [], batches):
                rows = pa.array(range(offset + 1, offset + 1 + batch.num_rows), pa.int64())
                offset += batch.num_rows
                columns = [c if c.type == pa.string() else c.cast(pa.string())
                           for c in batch.columns]
                yield pa.RecordBatch.from_arrays([*columns, rows], schema=schema)
        except (FocusflowError, UnicodeDecodeError) as exc:
            failure.append(exc if isinstance(exc, FocusflowError)
                           else InputError("not UTF-8 text"))

    return pa.RecordBatchReader.from_batches(schema, numbered())
