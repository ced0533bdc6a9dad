"""Type a Parquet report's columns inside DuckDB, reading the file with DuckDB's own reader.

The fast path for Parquet: no text round trip where the file's types already hold what FOCUS
means. Each column gets one SELECT expression chosen by its kind (the Arrow type the reader's
Arrow path sees, ``focus/parquet_types.py``: read from the footer by DuckDB where it can tell,
so the load never imports pyarrow) and its layout column; the Arrow path (render as text, then
``focus/conversion.py``) stays the authority, so every expression loads exactly what that path
loads or raises:

- text columns go through the same guarded casts as CSV text (``casts.py``); JSON and
  allowed-value columns are judged once per distinct value by a check query before the load;
- integers and booleans render as Arrow renders them; integers and decimals cast exactly to
  ``DECIMAL(38,18)`` (a value with more than 20 integer digits, or non-zero digits past the
  18th, is refused);
- a ``DOUBLE`` renders in its shortest round-trip form (DuckDB and Arrow agree on the digits,
  a test pins it), then casts to a decimal only where no fractional digit beyond the 18th is
  lost, exponent forms included (``1.6e-05``);
- a ``DOUBLE`` in a text column (an ``x_`` cost) becomes Arrow's text for it from 1e-6 to
  1e10 (where Arrow writes plain digits);
- timestamps (seconds to microseconds, zoned or naive: naive is UTC) and dates are instants,
  within years 1000-9999 (outside them the authority decides).

- a ``MAP(VARCHAR, VARCHAR)`` JSON column (AWS's ``Tags``) becomes the text ``json.dumps``
  writes for it, where no key or value needs escaping.

Any other type (``FLOAT`` renders differently, nanoseconds, structs, maps of other types)
makes the whole file ineligible: ``plan`` returns None and the sink types the text rows as
before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from focusflow.focus.catalogue import DataType
from focusflow.focus.parquet_types import ColumnKind, Kind
from focusflow.focus.schema import Layout, LayoutColumn
from focusflow.sinks.duckdb.casts import REFUSED, as_json, text_expression
from focusflow.sinks.identifiers import quote

_FIRST, _LAST = "1000-01-01 00:00:00+00", "9999-12-31 23:59:59.999999+00"


@dataclass
class Plan:
    """How to type a Parquet file's columns: the SELECT list, and the checks to run first.

    A check (one SQL query over ``source``) judges each *distinct* value of a column whose
    guard looks at the value alone (JSON objects, allowed values): a report repeats its tags
    and categories on every row, so judging them once is cheaper than a guard on every row.
    It raises like the guard; the SELECT list then types those columns without one.
    """

    select: str
    checks: list[str] = field(default_factory=list)


def plan(layout: Layout, kinds: list[ColumnKind], names: list[str], source: str) -> Plan | None:
    """The plan typing Parquet columns ``names`` of ``source`` (a FROM clause; ``kinds`` what
    Arrow reads them as, aligned with ``layout``) as the layout; None when a column's type
    has no exact fast path."""
    expressions, checks = [], []
    for column, kind, name in zip(layout.columns, kinds, names, strict=True):
        ref = quote(name)
        checked = _checked_once(column, kind, ref)
        if checked is not None:
            checks.append(
                f"SELECT count({checked[1]}) FROM (SELECT DISTINCT {ref} FROM {source})")
            expressions.append(checked[0])
            continue
        expression = _expression(column, kind, ref)
        if expression is None:
            return None
        expressions.append(expression)
    return Plan(", ".join(expressions), checks)


def _checked_once(column: LayoutColumn, kind: ColumnKind, ref: str) -> tuple[str, str] | None:
    """(unguarded expression, guarded expression) for a text column whose guard judges the
    value alone; None for other columns."""
    spec = column.catalogue
    if spec is None or kind.kind is not Kind.TEXT:
        return None
    value = f"NULLIF({ref}, '')"
    if spec.data_type is DataType.JSON and not spec.allowed_values:
        return as_json(value), text_expression(column, ref)
    if spec.data_type is DataType.STRING and spec.allowed_values:
        return value, text_expression(column, ref)
    return None


def _expression(column: LayoutColumn, kind: ColumnKind, ref: str) -> str | None:
    if kind.kind is Kind.TEXT:  # strings, dictionary-encoded strings (pandas categories)
        return text_expression(column, ref)
    spec = column.catalogue
    if spec is None or spec.data_type is DataType.STRING:
        return _into_text(column, kind, ref)
    if spec.data_type is DataType.DECIMAL and not spec.allowed_values:
        return _decimal(kind, ref)
    if spec.data_type is DataType.DATETIME and not spec.allowed_values:
        return _instant(kind, ref)
    if spec.data_type is DataType.JSON and kind.kind is Kind.TEXT_MAP:
        return text_expression(column, map_as_json(ref))
    return None


def map_as_json(ref: str) -> str:
    """A MAP(VARCHAR, VARCHAR) (AWS writes ``Tags`` so) as the JSON text Python's ``json.dumps``
    writes for it (the Arrow path's rendering), or a refusal: only where every key and value is
    printable ASCII without quotes or backslashes (nothing to escape) and keys are unique."""
    plain = r"[\x20\x21\x23-\x5b\x5d-\x7e]*"
    entries = f"map_entries({ref})"
    accepted = (
        f"coalesce(list_bool_and(list_transform({entries}, lambda e: "
        f"regexp_full_match(e.key, '{plain}') AND "
        f"(e.value IS NULL OR regexp_full_match(e.value, '{plain}')))), true) "
        f"AND len(map_keys({ref})) = len(list_distinct(map_keys({ref})))"
    )
    text = (f"'{{' || array_to_string(list_transform({entries}, lambda e: "
            f"'\"' || e.key || '\": ' || CASE WHEN e.value IS NULL THEN 'null' "
            f"ELSE '\"' || e.value || '\"' END), ', ') || '}}'")
    return _guarded(ref, accepted, text)


def _into_text(column: LayoutColumn, kind: ColumnKind, ref: str) -> str | None:
    if kind.kind in (Kind.INTEGER, Kind.BOOLEAN):  # Arrow writes the same text
        return text_expression(column, f"CAST({ref} AS VARCHAR)")
    if kind.kind is Kind.DOUBLE:
        return text_expression(column, double_as_text(ref))
    return None


def _instant(kind: ColumnKind, ref: str) -> str | None:
    if kind.kind in (Kind.TIMESTAMP, Kind.DATE):  # seconds to microseconds; date32
        instant = f"CAST({ref} AS TIMESTAMPTZ)"
        return _guarded(ref, f"{instant} BETWEEN '{_FIRST}' AND '{_LAST}'", instant)
    return None


def _decimal(kind: ColumnKind, ref: str) -> str | None:
    if kind.kind is Kind.INTEGER:
        return f"CAST({ref} AS DECIMAL(38, 18))"
    if kind.kind is Kind.DECIMAL and 0 <= kind.scale <= 18:
        # Exact, or an out-of-range error (more than 20 integer digits) that sends the file
        # back to the authority, which names the row.
        return f"CAST({ref} AS DECIMAL(38, 18))"
    if kind.kind is Kind.DECIMAL and kind.scale > 18:
        # Only when the digits past the 18th are zeros (the cast would round them).
        typed = f"CAST({ref} AS DECIMAL(38, 18))"
        return _guarded(ref, f"CAST({typed} AS DECIMAL(38, {kind.scale})) = {ref}", typed)
    if kind.kind is Kind.DOUBLE:
        return double_as_decimal(ref)
    return None


def double_as_decimal(ref: str) -> str:
    """A DOUBLE as the DECIMAL(38,18) of its shortest round-trip text, or a refusal."""
    # Most costs and prices have at most 10 decimals: then n = round(x * 1e10) and the test
    # n / 1e10 = x (IEEE operations, each correctly rounded) prove that n / 10^10 is the
    # shortest text's value, for |x| < 1e5: there n is exact (|x| * 1e10 < 2^53), the rounding
    # errors stay far below 0.5, and x's round-trip interval (one ulp, < 1e-10) holds no other
    # decimal of 10 places, so the shortest text, which has no more places, is that decimal.
    # The value is then built by integer and decimal arithmetic, without any text.
    scaled = f"round({ref} * 1e10)"
    tenths = (f"CAST(CAST(CAST({scaled} AS BIGINT) AS DECIMAL(18, 0)) * 0.0000000001 "
              "AS DECIMAL(38, 18))")
    # Otherwise the text: DuckDB writes a finite DOUBLE as "-123.45" or "-1.2345e-05": the
    # digits after the point, less the exponent, are its fractional digits; more than 18
    # would be rounded by the cast. From 0.01 up they are at most 18 (a shortest text has at
    # most 17 significant digits), so only smaller values are counted. "nan" and "inf" fail
    # the cast itself. (String functions: a regex costs twice as much.)
    text = f"CAST({ref} AS VARCHAR)"
    return (f"CASE WHEN {ref} IS NULL THEN NULL "
            f"WHEN abs({ref}) < 1e5 AND {scaled} / 1e10 = {ref} THEN {tenths} "
            f"WHEN abs({ref}) >= 0.01 OR {ref} = 0 OR {_fraction(text)} <= 18 "
            f"THEN CAST({text} AS DECIMAL(38, 18)) ELSE error('{REFUSED}') END")


def _fraction(text: str) -> str:
    """How many fractional digits DuckDB's text of a DOUBLE stands for."""
    dot, e = f"strpos({text}, '.')", f"strpos({text}, 'e')"
    return (f"CASE WHEN {e} = 0 THEN (CASE WHEN {dot} > 0 THEN length({text}) - {dot} "
            f"ELSE 0 END) ELSE (CASE WHEN {dot} > 0 THEN {e} - {dot} - 1 ELSE 0 END) "
            f"- CAST(substr({text}, {e} + 1) AS INTEGER) END")


def double_as_text(ref: str) -> str:
    """A DOUBLE as the text Arrow writes for it, or a refusal."""
    # Where both write plain digits (0.0001 <= |x| < 1e10, or 0), Arrow's text is DuckDB's
    # without a trailing ".0" (Arrow "100", DuckDB "100.0"). From 1e-6 to 0.0001 Arrow writes
    # plain digits ("0.000016") and DuckDB an exponent ("1.6e-05"): the exact decimal of
    # DuckDB's text, trailing zeros trimmed, is Arrow's. Elsewhere both write exponents, in
    # different forms (Arrow "1e-7" and "1e+10", DuckDB "1e-07" and "10000000000.0"): refused.
    text = f"CAST({ref} AS VARCHAR)"
    plain = f"CASE WHEN suffix({text}, '.0') THEN left({text}, -2) ELSE {text} END"
    small = f"rtrim(CAST(CAST({text} AS DECIMAL(38, 18)) AS VARCHAR), '0')"
    return (f"CASE WHEN {ref} IS NULL THEN NULL "
            f"WHEN {ref} = 0 OR (abs({ref}) >= 1e-4 AND abs({ref}) < 1e10) THEN {plain} "
            f"WHEN abs({ref}) >= 1e-6 AND abs({ref}) < 1e-4 AND {_fraction(text)} <= 18 "
            f"THEN {small} ELSE error('{REFUSED}') END")


def _guarded(ref: str, accepted: str, typed: str) -> str:
    return (f"CASE WHEN {ref} IS NULL THEN NULL WHEN {accepted} THEN {typed} "
            f"ELSE error('{REFUSED}') END")
