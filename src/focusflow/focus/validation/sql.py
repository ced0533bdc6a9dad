"""SQL building blocks for checks over raw FOCUS text: formats, types, JSON, currencies.

Model layer. Every expression here takes a quoted column reference holding the raw text (empty
string already turned into NULL) and never raises in DuckDB whatever the value: parsing goes
through ``try_strptime``/``TRY_CAST``/``json_valid`` so one bad value is one offending row, never
a failed query. Expressions are true when the value *conforms*; NULL input gives NULL (callers
decide what NULL means for their rule). Costly tests are "facts" computed once per row and
column in the scan and shared by every rule that needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources

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


def q(name: str) -> str:
    """A SQL identifier, quoted (column names come from files and may hold anything)."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def in_list(expr: str, values: Iterable[str]) -> str:
    """True when ``expr`` is one of ``values`` (NULL for NULL), like ``IN``.

    From four values on, a hash lookup in a constant MAP: ``IN`` compares one by one, and the
    FOCUS lists run to a hundred values (ServiceSubcategory) or two hundred (currencies).
    """
    listed = sorted(set(values))
    if len(listed) < 4:
        return f"{expr} IN ({', '.join(lit(v) for v in listed)})"
    return f"map_contains(MAP {{{', '.join(f'{lit(v)}: true' for v in listed)}}}, {expr})"


def not_blank(col: str) -> str:
    """True unless the value is only spaces (``trim`` gives ''); NULL for NULL.

    ``trim`` builds a new string per row; a value starting with a visible ASCII character
    cannot trim to '' (the common case), so only the others pay for it.
    """
    return f"CASE WHEN unicode({col}) BETWEEN 33 AND 126 THEN true ELSE trim({col}) <> '' END"


def lookup(key: str, mapping: dict[str, str]) -> str:
    """The value ``mapping`` gives the column ``key``, NULL for other keys (or a NULL key).

    One hash lookup per row: an OR of (key = k AND value = v) pairs costs a comparison per
    pair, and a concatenated-pair IN list builds a string per row.
    """
    entries = ", ".join(f"{lit(k)}: {lit(v)}" for k, v in sorted(mapping.items()))
    return f"map_extract_value(MAP {{{entries}}}, {key})"


@cache
def currency_codes() -> frozenset[str]:
    """ISO 4217 alphabetic codes, from the table shipped in the package (``data/iso4217.csv``)."""
    text = resources.files("focusflow.focus.validation").joinpath("data/iso4217.csv").read_text(
        encoding="utf-8")
    return frozenset(
        line.split(",", 1)[0].strip() for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


# Facts about one column's value, computed once per row in the scan (several rules read the
# same fact; DuckDB would otherwise evaluate each regex or JSON parse once per rule). A rule
# refers to a fact as the column ``"<Column>#<fact>"``; ``fact_columns`` builds the needed ones.
_FACTS_1: dict[str, Callable[[str], str]] = {
    "num_ok": lambda c: f"regexp_full_match({c}, {lit(NUMERIC_RE)})",
    "cur": lambda c: in_list(c, currency_codes()),
    "unit": lambda c: f"regexp_full_match({c}, {lit(UNIT_RE)})",
}
_FACTS_2: dict[str, Callable[[str], str]] = {
    "num": lambda c: f"CASE WHEN {fact(c, 'num_ok')} THEN TRY_CAST({c} AS DOUBLE) END",
}
# Facts that cost microseconds per row (a JSON parse, a date parse) on values that repeat from
# row to row (a resource's tags, the hour): computed once per distinct value of a window of rows
# before the scan (``windowed.py``), and read by the scan as input columns.
WINDOWED_FACTS: dict[str, Callable[[str], str]] = {
    "dt": lambda c: (f"CASE WHEN regexp_full_match({c}, {lit(DATETIME_RE)}) "
                     f"THEN try_strptime({c}, {lit(DATETIME_FORMAT)}) END"),
    "kv": lambda c: _key_value(c),  # noqa: PLW0108 - defined below
    "obj": lambda c: f"CASE WHEN json_valid({c}) THEN json_type({c}) = 'OBJECT' ELSE false END",
}


def fact(col: str, kind: str) -> str:
    """Reference to fact ``kind`` of the quoted column ``col`` (e.g. ``"BilledCost#num"``)."""
    return col[:-1] + f'#{kind}"'


def fact_columns(columns: Iterable[str], sql_text: str) -> tuple[list[str], list[str]]:
    """``expr AS "<col>#<fact>"`` for the per-row facts ``sql_text`` refers to, in two levels."""
    levels: tuple[list[str], list[str]] = ([], [])
    for col in columns:
        for level, facts in enumerate((_FACTS_1, _FACTS_2)):
            for kind, build in facts.items():
                ref = fact(col, kind)
                if ref in sql_text:
                    levels[level].append(f"{build(col)} AS {ref}")
                    if kind == "num" and fact(col, "num_ok") not in sql_text:
                        levels[0].append(f"{_FACTS_1['num_ok'](col)} AS {fact(col, 'num_ok')}")
    return levels


def windowed_facts(columns: Iterable[str], sql_text: str) -> list[tuple[str, str]]:
    """(quoted column, kind) of each windowed fact ``sql_text`` refers to."""
    return [(col, kind) for col in columns for kind in WINDOWED_FACTS
            if fact(col, kind) in sql_text]


def is_numeric(col: str) -> str:
    return fact(col, "num_ok")


def as_number(col: str) -> str:
    """The value as a DOUBLE for comparisons, NULL when it is not Numeric Format."""
    return fact(col, "num")


def as_datetime(col: str) -> str:
    """The value as a timestamp, NULL unless it is exactly 'YYYY-MM-DDTHH:mm:ssZ' and real."""
    return fact(col, "dt")


def is_datetime(col: str) -> str:
    return f"({fact(col, 'dt')} IS NOT NULL)"


def is_json_object(col: str) -> str:
    return fact(col, "obj")


def is_key_value(col: str) -> str:
    """A JSON object whose keys are unique and whose values are scalars (Key-Value Format)."""
    return fact(col, "kv")


def _key_value(col: str) -> str:
    values = f"json_extract({col}, '$.*')"
    nested = (f"coalesce(list_bool_or(list_transform({values}, "
              f"lambda e: json_type(e) IN ('OBJECT', 'ARRAY'))), false)")
    unique = f"len(json_keys({col})) = len(list_distinct(json_keys({col})))"
    # No '[' and no '{' after the first character: no value can be an object or an array, so
    # the costly per-value test (a list of values, a lambda) is skipped on most rows.
    flat = f"(strpos({col}, '[') = 0 AND strpos(substr({col}, 2), '{{') = 0)"
    return (f"CASE WHEN NOT coalesce(json_valid({col}), false) THEN false "
            f"WHEN json_type({col}) <> 'OBJECT' THEN false "
            f"WHEN {flat} THEN {unique} ELSE NOT {nested} AND {unique} END")


def is_unit(col: str) -> str:
    return fact(col, "unit")


def is_currency(col: str) -> str:
    return fact(col, "cur")
