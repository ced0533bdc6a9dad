"""One pass over a FOCUS file: every row-level check as one DuckDB aggregate query.

Model layer. The file is read as raw text (never inferred types, so an account id stays a string
and a bad value cannot crash the reader) through the project's streaming readers
(``focus/formats.py``: CSV, gzip, Parquet, JSON from any location of ``focus/locations.py``).
Each Arrow batch gets a ``__row`` column (data rows from 1) and is fed to DuckDB as a stream, so
memory stays bounded by a batch whatever the file's size. Each check is a SQL predicate that is
true on an offending row; the query computes, per check, the number of offending rows and the
first row numbers with ``min(__row, N)`` — one scan for all rules (see ``_scan_sql``). Local
CSV files are first counted by DuckDB's own parallel ``read_csv`` (``count_natively``); the
streaming pass then runs only if some rule failed, to name its rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from focusflow.errors import FocusflowError, InputError
from focusflow.focus.formats import Format, TextBatches, open_text_batches
from focusflow.focus.locations import HttpOptions, open_location
from focusflow.focus.schema import Layout, resolve_header
from focusflow.focus.streams import PrefixedStream
from focusflow.focus.validation.sql import fact_columns, lit, q

ROW = "__row"
log = logging.getLogger(__name__)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": max(1, os.cpu_count() or 1)})
    con.execute("SET enable_progress_bar = false")  # DuckDB draws one for long queries
    return con


@dataclass(frozen=True, slots=True)
class RowCheck:
    """A row-level check: ``violation`` is a SQL predicate true on each offending row.

    With ``distinct = (A, B)`` the check is set-level instead: ``violation`` selects the rows
    in scope and the count is how many A values have more than one B (no row numbers).
    """

    key: str
    violation: str
    distinct: tuple[str, str] | None = None


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
    local_path: Path | None = None

    @property
    def native_csv(self) -> Path | None:
        """The local CSV (or CSV.gz) DuckDB can read itself, in parallel; else None."""
        if self.local_path is None or self.text.format is not Format.CSV:
            return None
        return self.local_path


def open_for_validation(
    uri: str, *, http: HttpOptions | None = None, focus_version: str | None = None
) -> OpenedFile:
    """Open ``uri`` as text batches and resolve its header (missing columns are findings here)."""
    opened = open_location(uri, http)
    try:
        # Parallel CSV parsing; a ragged row's number is then found by locate_ragged_row.
        text = open_text_batches(opened.stream, file=opened.display, parallel=True)
        layout = resolve_header(text.header, file=opened.display, version=focus_version,
                                require_mandatory=False)
    except BaseException:
        opened.close()
        raise
    return OpenedFile(opened.display, layout, text, opened.close, opened.local_path)


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


def count_natively(
    path: Path, layout: Layout, checks: Sequence[RowCheck]
) -> ScanResult | None:
    """Counts per check from DuckDB's own parallel ``read_csv`` (no row numbers), or None.

    The fast path for local CSV files: DuckDB parses on every core. Row numbers are not known
    there, so the caller finds the first offending rows in a second, streaming pass over the
    failing checks only (clean files, the common case, need no second pass). Any DuckDB read
    error (ragged row, bad UTF-8, odd quoting) returns None: the streaming reader then reports
    it with the exact row.
    """
    source = (f"read_csv({lit(str(path))}, header = true, all_varchar = true, delim = ',', "
              "quote = '\"', escape = '\"', strict_mode = true, null_padding = false, "
              "auto_detect = false, columns = {"
              + ", ".join(f"{lit(c.source_name)}: 'VARCHAR'" for c in layout.columns) + "})")
    sql = _scan_sql(layout, checks, 1, source=f"(SELECT *, 0::BIGINT AS {ROW} FROM {source})")
    con = _connect()
    try:
        groups = con.execute(sql).fetchall()
    except duckdb.Error as exc:
        log.debug("native CSV scan of %s failed, streaming instead: %s", path, exc)
        return None
    finally:
        con.close()
    return _outcomes(groups, checks)


def run_checks(
    text: TextBatches, layout: Layout, checks: Sequence[RowCheck], *, file: str, first_n: int = 10
) -> ScanResult:
    """Run every check over the file in one scan; raises ``InputError`` for unreadable input."""
    groups = _scan_stream(text, _scan_sql(layout, checks, first_n), file=file)
    return _outcomes(groups, checks)


def _scan_stream(text: TextBatches, sql: str, *, file: str) -> list[Any]:
    """Run ``sql`` over the row-numbered text stream; a read error is raised as itself."""
    failure: list[BaseException] = []
    reader = _row_numbered(text, failure)
    con = _connect()
    try:
        con.register("raw_input", reader)
        rows: list[Any] = con.execute(sql).fetchall()
    except duckdb.Error as exc:
        if failure:
            raise failure[0] from None
        raise InputError(f"cannot be validated: {str(exc).splitlines()[0]}", file=file) from exc
    finally:
        con.close()
    if failure:
        raise failure[0]
    return rows


def _outcomes(groups: list[Any], checks: Sequence[RowCheck]) -> ScanResult:
    found = {int(k): (int(count), tuple(rows or ()), extra) for k, count, rows, extra in groups}
    slots = _slots(checks)
    outcomes: dict[str, CheckOutcome] = {}
    distinct = 0
    for check in checks:
        count, rows, extra = found.get(slots[check.violation], (0, (), None))
        if check.distinct:
            # Each distinct-count check its own count (checks sharing a scope share a group).
            outcomes[check.key] = CheckOutcome(int((extra or [0] * (distinct + 1))[distinct]), ())
            distinct += 1
        else:
            outcomes[check.key] = CheckOutcome(count, rows)
    return ScanResult(found.get(-1, (0, (), None))[0], outcomes)


_BITS = 62  # checks per BIGINT mask (bit 63 would make the mask negative)


def offending_rows(
    text: TextBatches, layout: Layout, checks: Sequence[RowCheck], *, file: str
) -> dict[int, str]:
    """Every row breaking one of ``checks`` (row-level only), with the key of the first one.

    Same single scan as ``run_checks``; the result holds offending rows only (what a
    quarantine needs), so memory grows with bad rows, not with the file.
    """
    row_checks = [c for c in checks if c.distinct is None]
    slots = _slots(row_checks)
    key_of = {slots[c.violation]: c.key for c in reversed(row_checks)}
    found = _scan_stream(text, _scan_sql(layout, row_checks, 1, per_row=True), file=file)
    return {int(row): key_of[int(k)] for row, k in found}


def _scan_sql(
    layout: Layout, checks: Sequence[RowCheck], first_n: int, *, per_row: bool = False,
    source: str = "raw_input",
) -> str:
    """The one query: per row, which checks it breaks; unnested and grouped by check index.

    One aggregate per check (``count(*) FILTER``...) makes DuckDB's planning cost grow steeply
    with hundreds of rules, so each row instead folds its verdicts into a few BIGINT bit masks
    (integer adds, cheap), a row with all masks zero emits only index -1 (which counts rows),
    and only offending rows expand their set bits into check indices. The final GROUP BY has
    three aggregates whatever the number of rules. Identical predicates are computed once. A
    distinct-count check emits its index for every row in scope and gets its own
    ``count(DISTINCT (A, B)) - count(DISTINCT A)`` in that group.
    """
    projection = ", ".join(
        [f"nullif({q(c.source_name)}, '') AS {q(c.name)}" for c in layout.columns] + [ROW]
    )
    slots = _slots(checks)
    predicates = sorted(slots, key=lambda p: slots[p])
    masks = []
    for start in range(0, len(predicates), _BITS):
        terms = [f"CASE WHEN coalesce(({p}), false) THEN {1 << (i - start)} ELSE 0 END"
                 for i, p in enumerate(predicates[start:start + _BITS], start=start)]
        masks.append(f"({' + '.join(terms) or '0'})::BIGINT AS __m{start // _BITS}")
    expand = [
        f"list_transform(list_filter(range({_BITS}), lambda b: (__m{m} >> b) & 1 = 1), "
        f"lambda b: b + {m * _BITS})" for m in range(len(masks))
    ]
    clean = " AND ".join(f"__m{m} = 0" for m in range(len(masks))) or "true"
    hits = f"CASE WHEN {clean} THEN [-1] ELSE list_concat([-1], {', '.join(expand)}) END" \
        if expand else "[-1]"
    extra_columns, extras = [], []
    for index, check in enumerate(checks):
        if check.distinct:
            a, b, slot = *check.distinct, slots[check.violation]
            extra_columns += [f"{a} AS __a{index}", f"{b} AS __b{index}"]
            scope = f"FILTER (WHERE __k = {slot})"
            extras.append(f"coalesce(count(DISTINCT (__a{index}, __b{index})) {scope} "
                          f"- count(DISTINCT __a{index}) {scope}, 0)")
    flagged = (f"SELECT {ROW}, " + ", ".join([*masks, *extra_columns, "true AS __t"])
               + " FROM facts2")
    everything = " ".join([*predicates, *extra_columns])
    level1, level2 = fact_columns([q(c.name) for c in layout.columns], everything)
    carried = "".join(f", __a{i}, __b{i}" for i, c in enumerate(checks) if c.distinct)
    exploded = f"SELECT {ROW}, unnest({hits}) AS __k{carried} FROM flagged"
    extra = f"[{', '.join(extras)}]"
    facts = (f"facts1 AS (SELECT *{''.join(', ' + f for f in level1)} FROM src), "
             f"facts2 AS (SELECT *{''.join(', ' + f for f in level2)} FROM facts1)")
    ctes = (f"WITH src AS (SELECT {projection} FROM {source} AS raw), {facts}, "
            f"flagged AS ({flagged}), "
            f"exploded AS ({exploded}) ")
    if per_row:
        return ctes + f"SELECT {ROW}, min(__k) FROM exploded WHERE __k >= 0 GROUP BY {ROW}"
    return ctes + (f"SELECT __k, count(*), min({ROW}, {int(first_n)}), {extra} "
                   f"FROM exploded GROUP BY __k")


def _slots(checks: Sequence[RowCheck]) -> dict[str, int]:
    """Each distinct predicate's index (rules that compile to the same SQL share one)."""
    slots: dict[str, int] = {}
    for check in checks:
        slots.setdefault(check.violation, len(slots))
    return slots


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
