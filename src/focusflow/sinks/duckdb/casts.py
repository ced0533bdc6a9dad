"""Type a FOCUS report's text rows inside DuckDB: one SELECT expression per layout column.

This is the fast path of a DuckDB load: DuckDB casts whole vectors on all its threads while the
CSV parser reads ahead, instead of Python typing each batch first. The Arrow conversion in
``focus/conversion.py`` stays the authority: DuckDB's own casts are more lenient in places
(they round a 19th fractional digit, accept ``1_000``, ``2024-1-1``, ``24:00``, ``NaN`` in
JSON), so each cast is guarded by the strict common form, and any value outside it raises.
The loader then rolls back and re-reads with the Arrow path, which loads what FOCUS allows
and names the row and column of what it does not. Clean data never takes that detour.
"""

from __future__ import annotations

from focusflow.focus.catalogue import DataType, is_custom
from focusflow.focus.schema import Layout, LayoutColumn
from focusflow.sinks.duckdb.arrow_typing import typed_by_arrow
from focusflow.sinks.identifiers import quote

# The marker a guard raises; the loader treats any DuckDB error as "use the authority".
REFUSED = "focusflow: value outside the fast path"

# Plain decimals with at most 18 fractional digits: exactly what DECIMAL(38,18) holds without
# rounding. Exponents go the Arrow way (they can hide lost digits).
_DECIMAL = r"[+-]?([0-9]+(\.[0-9]{0,18})?|\.[0-9]{1,18})"
# ISO 8601 date, or date-time to microseconds with an optional UTC designator or offset.
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_OFFSET = r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])"
_DATETIME = rf"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([T ]{_TIME}{_OFFSET}?)?"
# What DuckDB's JSON reader accepts and RFC 8259 (and so orjson) does not: NaN and infinities,
# trailing commas, numbers that overflow a double.
_LENIENT_JSON = (
    r"(?i)[:,\[]\s*[-+]?(nan|inf|infinity)\s*[,}\]]|,\s*[}\]]"
    r"|[:,\[]\s*-?[0-9]+(\.[0-9]+)?e\+?[0-9]{3}"
)


def select_list(layout: Layout, names: list[str]) -> str:
    """The SELECT list typing columns ``names`` (aligned with ``layout``) as the layout: text
    columns by a guarded cast, the ones Arrow typed already (``arrow_typing``) as they are."""
    return ", ".join(
        _arrow_typed(column, quote(name)) if typed_by_arrow(column)
        else text_expression(column, quote(name))
        for column, name in zip(layout.columns, names, strict=True))


def as_json(value: str) -> str:
    """SQL making the text ``value`` (an object, already judged) DuckDB's JSON: the one cast
    every load path uses, so each loads JSON exactly as the typed path does."""
    return f"CAST({value} AS JSON)"


def _arrow_typed(column: LayoutColumn, value: str) -> str:
    # JSON text the authority checked becomes DuckDB's JSON as the typed path makes it;
    # decimals and date-times arrive as their types.
    spec = column.catalogue
    return as_json(value) if spec and spec.data_type is DataType.JSON else value


def text_expression(column: LayoutColumn, text: str) -> str:
    """The typed value of the text SQL expression ``text`` for ``column`` (guarded)."""
    spec = column.catalogue
    if spec is None:
        # x_ columns are kept verbatim; other unknown columns follow FOCUS null handling.
        return text if is_custom(column.name) else f"NULLIF({text}, '')"
    value = f"NULLIF({text}, '')"
    typed = {
        DataType.STRING: value,
        DataType.DECIMAL: _guarded(value, f"regexp_full_match({value}, '{_DECIMAL}')",
                                   f"CAST({value} AS DECIMAL(38, 18))"),
        DataType.DATETIME: _guarded(value, f"regexp_full_match({value}, '{_DATETIME}')",
                                    f"CAST({value} AS TIMESTAMPTZ)"),
        DataType.JSON: _guarded(
            value,
            # The cast refuses what is not JSON at all; a leading brace makes it an object.
            f"left({value}, 1) = '{{' AND NOT regexp_matches({value}, '{_LENIENT_JSON}')",
            as_json(value),
        ),
    }[spec.data_type]
    if spec.allowed_values:
        listed = ", ".join(_literal(v) for v in sorted(spec.allowed_values))
        typed = _guarded(value, f"{value} IN ({listed})", typed)
    return typed


def _guarded(value: str, accepted: str, typed: str) -> str:
    return (f"CASE WHEN {value} IS NULL THEN NULL WHEN {accepted} THEN {typed} "
            f"ELSE error('{REFUSED}') END")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
