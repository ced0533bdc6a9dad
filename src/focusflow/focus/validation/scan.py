"""One pass over a FOCUS file: every row-level check as one DuckDB aggregate query.

Model layer. The file is read as raw text (never inferred types, so an account id stays a string
and a bad value cannot crash the reader) through the project's streaming readers
(``focus/formats.py``: CSV, gzip, Parquet, JSON from any location of ``focus/locations.py``).
Each Arrow batch gets a ``__row`` column (data rows from 1) and is fed to DuckDB as a stream, so
memory stays bounded by a batch whatever the file's size. Each check is a SQL predicate that is
true on an offending row; the query computes, per check, the number of offending rows and the
first row numbers with ``min(__row, N)`` — one scan for all rules (see ``_Plan``).

The rows always come from the project's Arrow reader, never from DuckDB's ``read_csv``: that
parser silently trims spaces around a quoted field (``1, "Usage"`` reads as ``Usage``) and
accepts an extra trailing empty field, so its verdicts could differ from what a load accepts.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from focusflow.errors import FocusflowError, InputError, UnreadableInputError
from focusflow.focus.formats import (
    DEFAULT_NULL_TOKENS,
    TextBatches,
    number_ragged_row,
    open_text_batches,
)
from focusflow.focus.locations import HttpOptions, open_location
from focusflow.focus.schema import Layout, resolve_header
from focusflow.focus.validation.sql import (
    WINDOWED_FACTS,
    fact,
    fact_columns,
    q,
    windowed_facts,
)
from focusflow.focus.validation.windowed import WindowedFact, WindowedFacts

ROW = "__row"
NEVER = "false"  # the violation of a check no row can break: left out of the query
log = logging.getLogger(__name__)


def _connect() -> duckdb.DuckDBPyConnection:
    # One core fewer than the machine has: while the scan runs, Arrow's parser threads and the
    # Python thread feeding the batches (one producer, under a lock) keep a core busy, and
    # DuckDB's workers waiting for batches burn CPU. On 2 cores (docs/validate.md): 1.46 vs
    # 1.77 s CPU for the 200k-row file, wall 1.51 vs 2.81 s under load 4.5; -20 ms on the
    # 2,000-row sample.
    con = duckdb.connect(config={"threads": max(1, (os.cpu_count() or 2) - 1)})
    con.execute("SET enable_progress_bar = false")  # DuckDB draws one for long queries
    # The common-subexpression optimizer spends 0.16 s on the scan's hundreds of predicates and
    # finds little: the costly shared terms are already computed once, as facts. Statistics
    # propagation spends 6 ms on them and has nothing to propagate: an Arrow stream carries no
    # statistics (the scan itself ran as fast without it).
    con.execute("SET disabled_optimizers = 'common_subexpressions,statistics_propagation'")
    return con


@dataclass(frozen=True, slots=True)
class RowCheck:
    """A row-level check: ``violation`` is a SQL predicate true on each offending row.

    With ``distinct = (A, B)`` the check is set-level instead: ``violation`` selects the rows
    in scope and the count is how many A values have more than one B (no row numbers).
    ``condition``, when given, is the violation's leading term: ``violation`` is
    ``(condition) AND rest``, and a condition several checks share is computed once per row.
    """

    key: str
    violation: str
    distinct: tuple[str, str] | None = None
    condition: str | None = None

    def __post_init__(self) -> None:
        if self.condition is not None and not self.violation.startswith(
                f"({self.condition}) AND "):
            raise ValueError(f"{self.key}: the violation does not start with its condition")


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
    uri: str, *, http: HttpOptions | None = None, focus_version: str | None = None,
    null_values: Sequence[str] = DEFAULT_NULL_TOKENS,
) -> OpenedFile:
    """Open ``uri`` as text batches and resolve its header (missing columns are findings here)."""
    opened = open_location(uri, http)
    try:
        # Parallel CSV parsing; a ragged row's number is then found by locate_ragged_row.
        text = open_text_batches(opened.stream, file=opened.display, parallel=True,
                                 null_values=null_values)
        layout = resolve_header(text.header, file=opened.display, version=focus_version,
                                require_mandatory=False)
    except BaseException:
        opened.close()
        raise

    def close() -> None:
        text.close()
        opened.close()

    return OpenedFile(opened.display, layout, text, close)


def locate_ragged_row(
    uri: str, error: InputError, *, http: HttpOptions | None = None
) -> InputError:
    """``error`` with its row number, found by re-reading the file serially when unknown.

    A parallel CSV parser cannot tell which row had the wrong number of fields; on this error
    path only, the loader's serial pass (``number_ragged_row``) finds the first such row.
    """
    if error.row is not None or "fields" not in error.reason:
        return error
    opened = open_location(uri, http)
    try:
        found = number_ragged_row(opened.stream, file=error.file or opened.display)
    except (InputError, OSError, EOFError):  # unreadable in some other way: keep the original
        return error
    finally:
        opened.close()
    return found or error


def run_checks(
    text: TextBatches, layout: Layout, checks: Sequence[RowCheck], *, file: str, first_n: int = 10
) -> ScanResult:
    """Run every check over the file in one scan; raises ``InputError`` for unreadable input."""
    plan = _Plan(checks)
    masks = [f"__m{m}" for m in range(plan.masks)]
    # Rows grouped by which checks they break (one group on a clean file).
    flagged, facts = plan.flagged(layout, "raw_input")
    sql = (flagged
           + plan.summary(masks, [(f"[{', '.join(masks)}]", "any_value({})"),
                                  ("count(*)", "sum({})"),
                                  (f"min({ROW}, {int(first_n)})",
                                   f"list_sort(flatten(list({{}})))[:{int(first_n)}]")]))
    groups, distinct = _split(_scan_stream(text, sql, facts, file=file))
    total = sum(int(count) for _, count, _ in groups)
    found = [(values, int(count), tuple(rows or ())) for values, count, rows in groups
             if any(values)]
    return plan.outcomes(total, found, distinct, first_n=first_n)


def _split(found: list[Any]) -> tuple[list[Any], list[int | None]]:
    """``_Plan.summary`` rows: the grouped rows (without their last column), and the
    distinct counts (the last column of its one row whose last column is not NULL)."""
    groups = [row[:-1] for row in found if row[-1] is None]
    distinct: list[int | None] = next((row[-1] for row in found if row[-1] is not None), [])
    return groups, list(distinct)


def _scan_stream(
    text: TextBatches, sql: str, facts: Sequence[WindowedFact], *, file: str
) -> list[Any]:
    """Run ``sql`` over the row-numbered text stream with ``facts`` attached; a read error is
    raised as itself."""
    failure: list[BaseException] = []
    con = _connect()
    try:
        con.register("raw_input", _row_numbered(text, failure, facts, con))
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


_BITS = 62  # checks per BIGINT mask (bit 63 would make the mask negative)
# Conditions shared by several predicates ("ChargeCategory is Tax", "Purchase or Usage and not
# a correction") are computed once per row as columns; the test suite turns this off to pin
# that the verdicts are the same either way.
SHARE_CONDITIONS = True


def offending_rows(
    text: TextBatches, layout: Layout, checks: Sequence[RowCheck], *, file: str
) -> dict[int, str]:
    """Every row breaking one of ``checks`` (row-level only), with the key of the first one.

    Same single scan as ``run_checks``; the result holds offending rows only (what a
    quarantine needs), so memory grows with bad rows, not with the file.
    """
    plan = _Plan([c for c in checks if c.distinct is None])
    masks = [f"__m{m}" for m in range(plan.masks)]
    flagged, facts = plan.flagged(layout, "raw_input")
    sql = (flagged + f" SELECT {ROW}, [{', '.join(masks)}] FROM flagged "
           f"WHERE {' OR '.join(f'{m} <> 0' for m in masks)}")
    found = {}
    for row, values in _scan_stream(text, sql, facts, file=file):
        slot = next(m * _BITS + (v & -v).bit_length() - 1 for m, v in enumerate(values) if v)
        found[int(row)] = plan.first_key[slot]
    return found


class _Plan:
    """How ``checks`` map onto the scan: predicate slots, bit masks and distinct counts.

    Each row folds its row-level verdicts into a few BIGINT bit masks (one bit per distinct
    predicate: rules that compile to the same SQL share one), so the aggregation needs no
    per-rule aggregate (hundreds of aggregates make DuckDB's planning slow) and no per-row
    expansion: rows are counted per mask value (one value on a clean file) and the bits are
    expanded here, in Python, over those few groups. A distinct-count check keeps its scope
    as a boolean and gets ``count(DISTINCT (A, B)) - count(DISTINCT A)`` over that scope.
    """

    def __init__(self, checks: Sequence[RowCheck]) -> None:
        self.checks = list(checks)
        self.slots: dict[str, int] = {}
        self.scopes: dict[str, int] = {}
        for check in self.checks:
            table = self.scopes if check.distinct else self.slots
            if check.violation != NEVER or check.distinct:
                table.setdefault(check.violation, len(table))
        self.first_key = {}
        for check in reversed(self.checks):
            if not check.distinct and check.violation in self.slots:
                self.first_key[self.slots[check.violation]] = check.key
        self.masks = max(1, -(-len(self.slots) // _BITS))
        self.conditions: list[str] = []
        self.shared = self._shared_conditions() if SHARE_CONDITIONS else {}

    def _shared_conditions(self) -> dict[str, str]:
        """Per predicate (by its text) its form reading a shared condition column, for the
        conditions at least two distinct predicates start with; ``__c<n>`` holds the
        condition's value (NULL included), so ``__c<n> AND rest`` is the same predicate."""
        by_predicate = {c.violation: c.condition for c in self.checks
                        if c.condition is not None and c.violation in self.slots
                        and not c.distinct}  # each predicate once: its condition is its own
        uses = Counter(by_predicate.values())
        self.conditions = [c for c in dict.fromkeys(by_predicate.values()) if uses[c] > 1]
        column = {c: f"__c{n}" for n, c in enumerate(self.conditions)}
        return {p: column[c] + p[len(f"({c})"):] for p, c in by_predicate.items()
                if c in column}

    def summary(self, keys: list[str], aggregates: list[tuple[str, str]]) -> str:
        """``SELECT`` over ``flagged``: per group of ``keys`` each aggregate, and the distinct
        counts, in a last column that is NULL except on one row of its own.

        ``aggregates`` are (per-row aggregate, how to combine its partial results) pairs, the
        latter with ``{}`` for the partial column. One pass, one hash aggregate grouped by the
        keys and every distinct-count operand (its groups grow with distinct values, not
        with rows); the partials are then combined, and the distinct counts taken, over that
        small result. (``count(DISTINCT ...)`` over ``flagged`` itself makes DuckDB store
        every row in a temporary table.)
        """
        distinct = [(i, self.scopes[c.violation]) for i, c in enumerate(self.checks)
                    if c.distinct]
        operands = sorted({f"__s{s}" for _, s in distinct}) + [
            f"__{side}{i}" for i, _ in distinct for side in "ab"]
        partial = [f"{a} AS __x{n}" for n, (a, _) in enumerate(aggregates)]
        combined = [c.format(f"__x{n}") for n, (_, c) in enumerate(aggregates)]
        group = f"GROUP BY {', '.join([*keys, *operands])} " if keys or operands else ""
        counts = []
        for i, s in distinct:
            scope = f"FILTER (WHERE __s{s})"
            counts.append(f"count(DISTINCT (__a{i}, __b{i})) {scope} "
                          f"- count(DISTINCT __a{i}) {scope}")
        regroup = f" GROUP BY {', '.join(keys)}" if keys else ""
        nulls = ", ".join("NULL" for _ in aggregates)
        return (f", g AS (SELECT {', '.join([*keys, *operands, *partial])} FROM flagged {group}) "
                f"SELECT {', '.join(combined)}, NULL FROM g{regroup} "
                f"UNION ALL SELECT {nulls}, [{', '.join(counts)}] FROM g")

    def flagged(self, layout: Layout, source: str) -> tuple[str, list[WindowedFact]]:
        """``WITH ... flagged AS (...)``: per row its masks, scopes and distinct operands; and
        the facts the checks read that are computed before the scan (``windowed.py``), each
        arriving as an input column ``__<Column>#<fact>``."""
        columns = self._columns()
        text = " ".join(columns + self.conditions)  # the facts a shared condition reads too
        sources = {q(c.name): c.source_name for c in layout.columns}
        windowed = [WindowedFact(sources[col], "__" + fact(col, kind)[1:-1], WINDOWED_FACTS[kind])
                    for col, kind in windowed_facts(sources, text)]
        projection = ", ".join(
            [f"nullif({q(c.source_name)}, '') AS {q(c.name)}" for c in layout.columns]
            + [ROW, *(f"raw.{q(f.name)} AS {q(f.name[2:])}" for f in windowed)]
        )
        level1, level2 = fact_columns(sources, text)
        shared = [f"({c}) AS __c{n}" for n, c in enumerate(self.conditions)]
        facts = (f"facts1 AS (SELECT *{''.join(', ' + f for f in level1)} FROM src), "
                 f"facts2 AS (SELECT *{''.join(', ' + f for f in level2)} FROM facts1), "
                 f"facts3 AS (SELECT *{''.join(', ' + f for f in shared)} FROM facts2)")
        return (f"WITH src AS (SELECT {projection} FROM {source} AS raw), {facts}, "
                f"flagged AS (SELECT {ROW}, {', '.join(columns)} FROM facts3)"), windowed

    def _columns(self) -> list[str]:
        """The ``flagged`` columns: the masks, the distinct-count scopes and operands."""
        predicates = sorted(self.slots, key=lambda p: self.slots[p])
        columns = []
        for m in range(self.masks):
            # CASE takes a NULL condition as not true (the ELSE): no coalesce needed, and the
            # 154 coalesce calls of the 1.2 model cost 5-10 % of the scan query.
            terms = [f"CASE WHEN ({self.shared.get(p, p)}) "
                     f"THEN {1 << (i - m * _BITS)} ELSE 0 END"
                     for i, p in enumerate(predicates[m * _BITS:(m + 1) * _BITS],
                                           start=m * _BITS)]
            columns.append(f"({' + '.join(terms) or '0'})::BIGINT AS __m{m}")
        scopes = sorted(self.scopes, key=lambda p: self.scopes[p])
        columns += [f"coalesce(({p}), false) AS __s{i}" for i, p in enumerate(scopes)]
        for index, check in enumerate(self.checks):
            if check.distinct:
                a, b = check.distinct
                columns += [f"{a} AS __a{index}", f"{b} AS __b{index}"]
        return columns

    def outcomes(
        self, total: int, groups: Sequence[tuple[list[int], int, tuple[int, ...]]],
        extras: Sequence[int | None], *, first_n: int,
    ) -> ScanResult:
        """Per check its count and first rows, from the rows counted per mask value."""
        counts = [0] * len(self.slots)
        rows: list[list[int]] = [[] for _ in self.slots]
        for values, count, first in groups:
            for m, mask in enumerate(values):
                left = int(mask or 0)
                while left:  # each set bit: one predicate these rows break
                    bit = left & -left
                    slot = m * _BITS + bit.bit_length() - 1
                    counts[slot] += count
                    rows[slot].extend(first)
                    left ^= bit
        result: dict[str, CheckOutcome] = {}
        distinct = iter(extras)
        for check in self.checks:
            if check.distinct:
                result[check.key] = CheckOutcome(int(next(distinct) or 0), ())
            elif check.violation not in self.slots:  # NEVER
                result[check.key] = CheckOutcome(0, ())
            else:
                slot = self.slots[check.violation]
                result[check.key] = CheckOutcome(
                    counts[slot], tuple(sorted(rows[slot])[:first_n]))
        return ScanResult(total, result)


def _row_numbered(
    text: TextBatches, failure: list[BaseException], facts: Sequence[WindowedFact],
    database: duckdb.DuckDBPyConnection,
) -> pa.RecordBatchReader:
    """The text batches with a ``__row`` column and the windowed facts (judged in
    ``database``, the scan's); read errors are kept for the caller to raise.

    DuckDB pulls the stream; an exception inside it would surface as an opaque DuckDB error, so
    we store it, end the stream, and raise the original after the query.
    """
    batches = iter(text.batches)
    first = next(batches, None)
    fields = [pa.field(name, pa.string()) for name in text.header]
    schema = pa.schema([*fields, pa.field(ROW, pa.int64())])

    def numbered() -> Iterator[pa.RecordBatch]:
        offset = 0
        for batch in itertools.chain([first] if first is not None else [], batches):
            rows = pa.arange(offset + 1, offset + 1 + batch.num_rows)  # pa.array() imports pandas
            offset += batch.num_rows
            columns = [c if c.type == pa.string() else c.cast(pa.string())
                       for c in batch.columns]
            yield pa.RecordBatch.from_arrays([*columns, rows], schema=schema)

    windowed = WindowedFacts(facts, schema, database) if facts else None

    def guarded() -> Iterator[pa.RecordBatch]:
        try:
            yield from windowed.attach(numbered()) if windowed else numbered()
        except (FocusflowError, UnicodeDecodeError) as exc:
            failure.append(exc if isinstance(exc, FocusflowError)
                           else UnreadableInputError("not UTF-8 text"))

    return pa.RecordBatchReader.from_batches(windowed.schema if windowed else schema, guarded())
