"""Turn raw text batches (every column a string) into typed FOCUS batches, row-exact on errors.

The conversion is vectorised with Arrow compute kernels; only when a kernel refuses a column do
we walk that column value by value to name the first offending row, so clean data pays nothing
for good error messages. Checks done here are the ones a load must not get wrong: numbers parse
as decimals without loss, date-times parse (offset-less values are read as UTC, as the spec
requires UTC), allowed-value columns hold allowed values, JSON columns hold JSON objects.

``convert_lenient`` is the services' variant (exporter, scraper): a value outside a column's
allowed list is kept as it is and counted, and only a cell that cannot be typed at all (a
non-numeric cost, an unparseable date, JSON that is not an object) sets its row aside.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from focusflow.errors import InputError
from focusflow.focus.catalogue import DataType, is_custom
from focusflow.focus.schema import Layout, LayoutColumn, arrow_type_of
from focusflow.lazy import lazy_module

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:  # the DuckDB paths type rows inside DuckDB and never call a kernel
    pc = lazy_module("pyarrow.compute")

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported at first use: a Parquet load into DuckDB never needs it
    pa = lazy_module("pyarrow")


@dataclass(frozen=True, slots=True)
class Reject:
    """One row set aside: where, why, and the row itself as the source wrote it.

    ``values`` are the row's cells in the source's header order, as read (text; None for a
    null), so the row can be written back and re-loaded once fixed; empty when the row could
    not be split into cells (a row with the wrong number of fields: ``value`` holds its text).
    """

    row: int
    column: str
    value: str | None
    reason: str
    rule: str = ""
    values: tuple[str | None, ...] = ()


def row_values(raw: pa.RecordBatch, offset: int) -> tuple[str | None, ...]:
    """The cells of row ``offset`` of a text batch."""
    return tuple(raw.column(i)[offset].as_py() for i in range(raw.num_columns))


def convert_batch(
    raw: pa.RecordBatch, layout: Layout, *, file: str, first_row: int
) -> pa.RecordBatch:
    """Typed batch for ``raw``; raises ``InputError`` naming the first bad row and column."""
    arrays = []
    for index, column in enumerate(layout.columns):
        values = raw.column(index)
        try:
            arrays.append(_convert_column(values, column))
        except _ColumnError:
            bad = _first_bad(values, column)
            raise InputError(
                f"expected {_expectation(column)}, found {bad.value!r}{null_hint(bad.value)}",
                file=file, row=first_row + bad.offset, column=column.name,
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=layout.schema)


def split_valid(
    raw: pa.RecordBatch, layout: Layout, *, first_row: int
) -> tuple[pa.RecordBatch, list[Reject], list[int]]:
    """Keep the rows that convert; return them, the rejects, and the kept rows' offsets."""
    bad: dict[int, Reject] = {}
    for index, column in enumerate(layout.columns):
        values = raw.column(index)
        try:
            _convert_column(values, column)
        except _ColumnError:
            for found in _all_bad(values, column):
                if found.offset not in bad:
                    bad[found.offset] = Reject(
                        first_row + found.offset, column.name, found.value,
                        f"expected {_expectation(column)}, found {found.value!r}"
                        f"{null_hint(found.value)}",
                        rule=_rule_of(column), values=row_values(raw, found.offset),
                    )
    keep = [i for i in range(raw.num_rows) if i not in bad]
    kept = raw.take(pa.array(keep, pa.int64())) if bad else raw
    return kept, sorted(bad.values(), key=lambda r: r.row), keep


# Texts that other tools write for "no value"; a cell holding one was read as text.
NULL_LIKE = frozenset({"null", "na", "n/a", "none", "nan", "nil", "\\n", "#n/a", "(null)"})
NULLS_READ = ("nulls are read as an empty unquoted field or an unquoted NULL, a quoted value "
              "is text (ingest/validate --null-value TOKEN adds another unquoted null token)")


def null_hint(value: str | None) -> str:
    """How nulls are read, when ``value`` looks like another tool's null (else '')."""
    if value is None or value.strip().lower() not in NULL_LIKE:
        return ""
    return "; " + NULLS_READ


class _ColumnError(Exception):
    """A kernel refused a column; the slow path finds out where."""


@dataclass(frozen=True, slots=True)
class _Bad:
    offset: int
    value: str | None


def _expectation(column: LayoutColumn) -> str:
    spec = column.catalogue
    if spec is None:
        return "text"
    if spec.allowed_values:
        return "one of " + ", ".join(sorted(spec.allowed_values))
    return {
        DataType.DECIMAL: "a decimal number (Numeric Format, at most 18 fractional digits)",
        DataType.DATETIME: "an ISO 8601 UTC date-time such as 2024-01-31T00:00:00Z",
        DataType.JSON: "a JSON object such as {\"key\": \"value\"}",
        DataType.STRING: "text",
    }[spec.data_type]


def _rule_of(column: LayoutColumn) -> str:
    """The validator's rule id for what the conversion checks in ``column``."""
    spec = column.catalogue
    if spec is None:
        return "values.text"
    if spec.allowed_values:
        return "values.allowed"
    return {DataType.DECIMAL: "values.numeric-format", DataType.DATETIME: "values.datetime-format",
            DataType.JSON: "values.json-object", DataType.STRING: "values.text"}[spec.data_type]


@functools.cache
def _text_scalars() -> tuple[pa.Scalar, pa.Scalar]:
    """The empty text and the null text as Arrow scalars, built from buffers: pyarrow's
    conversion of a Python value (``pa.scalar("")``) imports pandas, 0.15 s of CPU the first
    time, on a DuckDB load's read-ahead thread too (``sinks/duckdb/arrow_typing.py``)."""
    no_characters = pa.py_buffer(struct.pack("<ii", 0, 0))
    empty = pa.Array.from_buffers(pa.string(), 1, [None, no_characters, pa.py_buffer(b"")])[0]
    return empty, pa.nulls(1, pa.string())[0]


def blank_to_null(values: pa.Array) -> pa.Array:
    """FOCUS null handling: an empty field is a null, never an empty string."""
    empty_text, null_text = _text_scalars()
    empty = pc.equal(values, empty_text)
    if not pc.any(empty).as_py():  # the common case: no copy
        return values
    return pc.if_else(empty, null_text, values)


def convert_column(values: pa.Array, column: LayoutColumn) -> pa.Array | None:
    """``column``'s text ``values`` typed as ``convert_batch`` types them, or None where it
    would refuse one (it then names the row: call it for the message)."""
    try:
        return _convert_column(values, column)
    except _ColumnError:
        return None


def _convert_column(values: pa.Array, column: LayoutColumn, *,
                    check_allowed: bool = True) -> pa.Array:
    spec = column.catalogue
    if spec is None:
        return values if is_custom(column.name) else blank_to_null(values)
    values = blank_to_null(values)
    converter = _CONVERTERS[spec.data_type]
    result = converter(values)
    if check_allowed and spec.allowed_values:
        allowed = pa.array(sorted(spec.allowed_values), pa.string())
        ok = pc.or_(pc.is_null(values), pc.is_in(values, value_set=allowed))
        if not pc.all(ok).as_py():
            raise _ColumnError
    return result


def _to_decimal(values: pa.Array) -> pa.Array:
    try:
        return pc.cast(values, arrow_type_of(DataType.DECIMAL))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _ColumnError from exc


def _to_timestamp(values: pa.Array) -> pa.Array:
    try:
        return pc.cast(values, arrow_type_of(DataType.DATETIME))
    except pa.ArrowInvalid:
        pass
    # Some exports omit the "Z"; FOCUS date-times are UTC, so an offset-less value is UTC.
    try:
        has_offset = pc.match_substring_regex(values, r"(Z|[+-]\d\d:?\d\d)$")
        null_text = _text_scalars()[1]
        naive = pc.if_else(has_offset, null_text, values)
        zoned = pc.if_else(has_offset, values, null_text)
        from_naive = pc.assume_timezone(pc.cast(naive, pa.timestamp("us")), "UTC")
        return pc.coalesce(pc.cast(zoned, arrow_type_of(DataType.DATETIME)), from_naive)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _ColumnError from exc


def _to_json(values: pa.Array) -> pa.Array:
    # Tags repeat from row to row (the same resource every day): parse each text once.
    for value in pc.unique(values.drop_null()).to_pylist():
        if not _is_json_object(value):
            raise _ColumnError
    return values


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        return False


_CONVERTERS: dict[DataType, Callable[[pa.Array], pa.Array]] = {
    DataType.STRING: lambda values: values,
    DataType.DECIMAL: _to_decimal,
    DataType.DATETIME: _to_timestamp,
    DataType.JSON: _to_json,
}


def _all_bad(values: pa.Array, column: LayoutColumn, *,
             check_allowed: bool = True) -> list[_Bad]:
    # Each distinct value is tried once (a report repeats its bad values), then located.
    bad = []
    for value in pc.unique(values).to_pylist():
        try:
            _convert_column(pa.array([value], pa.string()), column,
                            check_allowed=check_allowed)
        except _ColumnError:
            bad.append(value)
    if not bad:
        return []
    where = pc.indices_nonzero(pc.is_in(values, value_set=pa.array(bad, pa.string())))
    return [_Bad(offset, values[offset].as_py()) for offset in where.to_pylist()]


def _first_bad(values: pa.Array, column: LayoutColumn) -> _Bad:
    # Bisect: a kernel over half the rows is far cheaper than one call per row.
    low, high = 0, len(values)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            _convert_column(values.slice(low, middle - low), column)
        except _ColumnError:
            high = middle
        else:
            low = middle
    return _Bad(low, values[low].as_py())


@dataclass
class Leniency:
    """What lenient typing kept as it is and what it set aside, summed over batches.

    ``nonconformant`` counts the cells outside their column's allowed list per column (with
    ``examples``, one such value per column); ``quarantined`` holds the rows set aside, each
    with its first untypable cell.
    """

    nonconformant: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)
    quarantined: list[Reject] = field(default_factory=list)

    def add(self, other: Leniency) -> None:
        for column, count in other.nonconformant.items():
            self.nonconformant[column] = self.nonconformant.get(column, 0) + count
            self.examples.setdefault(column, other.examples[column])
        self.quarantined += other.quarantined

    def messages(self, action: str, shown: int = 5) -> list[str]:
        """One line per kind of finding (``action``: what happened to the rows, "served")."""
        lines = []
        if self.nonconformant:
            lines.append(f"{sum(self.nonconformant.values())} cell(s) outside FOCUS's allowed "
                         f"values, {action} as they are: " + "; ".join(
                             f"{column} {count} (e.g. {self.examples[column]!r})"
                             for column, count in sorted(self.nonconformant.items())))
        if self.quarantined:
            more = len(self.quarantined) - shown
            lines.append(f"{len(self.quarantined)} row(s) quarantined, not {action} (a cell "
                         "cannot be typed): " + "; ".join(
                             f"row {r.row} column {r.column}: {r.reason}, found {r.value!r}"
                             for r in self.quarantined[:shown])
                         + (f"; and {more} more" if more > 0 else ""))
        return lines


@dataclass(frozen=True)
class Lenient:
    """What ``convert_lenient`` made of a batch: the rows that could be typed (values outside
    an allowed list included, as they are), the input offsets of those rows (None: every
    row), and what was counted or set aside."""

    batch: pa.RecordBatch
    kept: pa.Array | None
    leniency: Leniency


def convert_lenient(raw: pa.RecordBatch, layout: Layout, *, first_row: int) -> Lenient:
    """Type ``raw`` as a service does: keep non-conformant values, set untypable rows aside."""
    arrays: list[pa.Array] = []
    bad: dict[int, Reject] = {}
    for index, column in enumerate(layout.columns):
        values = raw.column(index)
        try:
            arrays.append(_convert_column(values, column, check_allowed=False))
        except _ColumnError:
            for found in _all_bad(values, column, check_allowed=False):
                bad.setdefault(found.offset, Reject(
                    first_row + found.offset, column.name, found.value,
                    f"expected {_expectation(column)}"))
    kept = None
    if bad:
        kept = pa.array([i for i in range(raw.num_rows) if i not in bad], pa.int64())
        raw = raw.take(kept)
        arrays = [_convert_column(raw.column(i), column, check_allowed=False)
                  for i, column in enumerate(layout.columns)]
    batch = pa.RecordBatch.from_arrays(arrays, schema=layout.schema)
    leniency = nonconformant_cells(batch, layout)
    leniency.quarantined = sorted(bad.values(), key=lambda r: r.row)
    return Lenient(batch, kept, leniency)


def nonconformant_cells(data: pa.RecordBatch | pa.Table, layout: Layout) -> Leniency:
    """Cells outside their column's allowed list, per column, and one example of each."""
    counts: dict[str, int] = {}
    examples: dict[str, str] = {}
    for index, column in enumerate(layout.columns):
        spec = column.catalogue
        if spec is None or not spec.allowed_values:
            continue
        values = data.column(index)
        allowed = pa.array(sorted(spec.allowed_values), pa.string())
        outside = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=allowed)))
        count = pc.sum(outside).as_py() or 0
        if count:
            counts[column.name] = int(count)
            examples[column.name] = str(pc.filter(values, outside)[0].as_py())
    return Leniency(counts, examples)
