"""SQL building blocks for checks over raw FOCUS text: formats, types, JSON, currencies.

Model layer. Every expression here takes a column reference holding the raw text (empty string
already turned into NULL) and never raises in DuckDB whatever the value: parsing goes through
``try_strptime``/``TRY_CAST``/``json_valid`` so one bad value is one offending row, never a
failed query. Expressions are true when the value *conforms*; NULL input gives NULL (callers
decide what NULL means for their rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources

from focusflow.focus.validation.scan import lit

# FOCUS Numeric Format: integer, decimal or E notation; a sign only for negatives, no
# thousands separators, currency symbols or units.
NUMERIC_RE = r"-?(\d+(\.\d*)?|\.\d+)([eE]-?\d+)?"
# FOCUS Date/Time Format: extended ISO 8601 in UTC, 'YYYY-MM-DDTHH:mm:ssZ'.
DATETIME_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# FOCUS Unit Format (1.2): '<unit>', '<unit>-<unit>', '<unit>/<interval>', '<qty> <unit>'; units
# are words with capitals, digits and spaces. A loose shape check: letters first, no trailing
# blanks.
UNIT_RE = r"([0-9]+ )?[A-Za-z][A-Za-z0-9 ]*(([-/])([0-9]+ )?[A-Za-z][A-Za-z0-9 ]*)*"


def in_list(expr: str, values: Iterable[str]) -> str:
    return f"{expr} IN ({', '.join(lit(v) for v in sorted(values))})"


def is_numeric(col: str) -> str:
    return f"regexp_full_match({col}, {lit(NUMERIC_RE)})"


def as_number(col: str) -> str:
    """The value as a DOUBLE for comparisons, NULL when it is not Numeric Format."""
    return f"CASE WHEN {is_numeric(col)} THEN TRY_CAST({col} AS DOUBLE) END"


def as_datetime(col: str) -> str:
    """The value as a timestamp, NULL unless it is exactly 'YYYY-MM-DDTHH:mm:ssZ' and real."""
    return (f"CASE WHEN regexp_full_match({col}, {lit(DATETIME_RE)}) "
            f"THEN try_strptime({col}, {lit(DATETIME_FORMAT)}) END")


def is_datetime(col: str) -> str:
    return f"({as_datetime(col)}) IS NOT NULL"


def is_json_object(col: str) -> str:
    return f"CASE WHEN json_valid({col}) THEN json_type({col}) = 'OBJECT' ELSE false END"


def is_key_value(col: str) -> str:
    """A JSON object whose keys are unique and whose values are scalars (Key-Value Format)."""
    values = f"json_extract({col}, '$.*')"
    nested = (f"coalesce(list_bool_or(list_transform({values}, "
              f"lambda e: json_type(e) IN ('OBJECT', 'ARRAY'))), false)")
    unique = f"len(json_keys({col})) = len(list_distinct(json_keys({col})))"
    return (f"CASE WHEN json_valid({col}) AND json_type({col}) = 'OBJECT' "
            f"THEN NOT {nested} AND {unique} ELSE false END")


def is_unit(col: str) -> str:
    return f"regexp_full_match({col}, {lit(UNIT_RE)})"


def is_currency(col: str) -> str:
    return in_list(col, currency_codes())


def has_no_edge_blanks(col: str) -> str:
    """String Handling: no leading/trailing blanks, not only blanks."""
    return f"({col} = trim({col}) AND length({col}) > 0)"


@cache
def currency_codes() -> frozenset[str]:
    """ISO 4217 alphabetic codes, from the table shipped in the package (``data/iso4217.csv``)."""
    text = resources.files("focusflow.focus.validation").joinpath("data/iso4217.csv").read_text(
        encoding="utf-8")
    return frozenset(
        line.split(",", 1)[0].strip() for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )
