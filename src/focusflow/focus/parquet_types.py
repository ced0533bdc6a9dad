"""A Parquet report's header and column kinds, read from its footer by DuckDB or by Arrow.

A Parquet report loaded into DuckDB is read and typed by DuckDB itself
(``sinks/duckdb/parquet.py``); what it needs from the reader is the header and, per column,
the *kind* of values Arrow would read there (text, integer, double, decimal of a scale, ...):
the Arrow path stays the authority, so the fast path decides on Arrow's view of the file.

``kind_of_arrow`` is that view from an Arrow type. ``read_footer`` gets the same view without
importing pyarrow (about 0.1 s of a command's start-up: pyarrow and numpy): DuckDB reads the
footer's schema (``parquet_schema``) and each column's Parquet physical and logical type is
mapped to the kind Arrow reads it as. Where that mapping could differ from Arrow it returns
None and the caller asks Arrow: a file that carries Arrow's own schema (``ARROW:schema``
metadata, written by pyarrow: it can restore a ``duration`` from a plain INT64, for one), a
file DuckDB cannot read (Arrow's error is the one reported). A column whose Parquet type has
no unambiguous kind (INT96, ``FLOAT``, nanoseconds, enums, lists, structs, ...) is ``OTHER``,
which the fast path declines, as it declines those Arrow types. A test pins that both views
agree on every type the fast path's tests use and on files written by pyarrow, DuckDB and
focus-data-toolkit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from focusflow.lazy import lazy_module

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
else:
    duckdb, pa = lazy_module("duckdb"), lazy_module("pyarrow")


class Kind(StrEnum):
    TEXT = "text"  # string, large string, dictionary-encoded string
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DOUBLE = "double"
    DECIMAL = "decimal"  # decimal128 (precision at most 38), with its scale
    TIMESTAMP = "timestamp"  # seconds to microseconds, zoned or naive
    DATE = "date"  # date32
    TEXT_MAP = "text map"  # map<string, string>
    OTHER = "other"  # no fast path


@dataclass(frozen=True, slots=True)
class ColumnKind:
    """What Arrow reads a Parquet column as, in the terms the fast path decides on."""

    kind: Kind
    scale: int = 0  # decimals only


OTHER = ColumnKind(Kind.OTHER)


def kind_of_arrow(kind: pa.DataType) -> ColumnKind:
    """The kind of an Arrow type."""
    if _is_text(kind):
        return ColumnKind(Kind.TEXT)
    simple = ((pa.types.is_integer, Kind.INTEGER), (pa.types.is_boolean, Kind.BOOLEAN),
              (pa.types.is_float64, Kind.DOUBLE), (pa.types.is_date32, Kind.DATE))
    for test, found in simple:
        if test(kind):
            return ColumnKind(found)
    if pa.types.is_decimal128(kind):
        return ColumnKind(Kind.DECIMAL, kind.scale)
    if pa.types.is_timestamp(kind) and kind.unit != "ns":
        return ColumnKind(Kind.TIMESTAMP)
    if pa.types.is_map(kind) and _is_text(kind.key_type) and _is_text(kind.item_type):
        return ColumnKind(Kind.TEXT_MAP)
    return OTHER


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


@dataclass(frozen=True, slots=True)
class Footer:
    """A Parquet file's header (top-level column names, in order), kinds and row count."""

    names: list[str]
    kinds: list[ColumnKind]
    num_rows: int


def read_footer(path: str) -> Footer | None:
    """The footer as DuckDB reads it, or None where Arrow must decide (see the docstring)."""
    con = duckdb.connect()
    try:
        if con.execute("SELECT count(*) FROM parquet_kv_metadata(?) WHERE key = 'ARROW:schema'",
                       [path]).fetchall()[0][0]:
            return None
        return footer_from_schema(con, path)
    except duckdb.Error:  # Arrow reads it, or names what is wrong as before
        return None
    finally:
        con.close()


def footer_from_schema(con: duckdb.DuckDBPyConnection, path: str) -> Footer | None:
    """The footer from the Parquet schema alone (``read_footer`` first rules out the files
    where Arrow's own metadata could change Arrow's reading)."""
    elements = con.execute(
        "SELECT name, type, repetition_type, num_children, converted_type, precision, "
        "logical_type, scale FROM parquet_schema(?)", [path]).fetchall()
    rows = con.execute("SELECT sum(num_rows) FROM parquet_file_metadata(?)",
                       [path]).fetchall()[0][0]
    if not elements:
        return None
    names, kinds = [], []
    index = 1
    for _ in range(elements[0][3] or 0):  # the root's children: the columns
        names.append(elements[index][0])
        subtree = _subtree(elements, index)
        kinds.append(_kind(elements[index:subtree]))
        index = subtree
    return Footer(names, kinds, int(rows or 0))


def _subtree(elements: list[tuple[Any, ...]], index: int) -> int:
    """The index just past the element at ``index`` and its descendants (depth first)."""
    pending = 1
    while pending:
        pending += (elements[index][3] or 0) - 1
        index += 1
    return index


_INTEGERS = frozenset({"INT_8", "INT_16", "INT_32", "INT_64",
                       "UINT_8", "UINT_16", "UINT_32", "UINT_64"})


def _kind(subtree: list[tuple[Any, ...]]) -> ColumnKind:  # noqa: PLR0911 - one per type
    """The kind Arrow reads a top-level element (with its descendants) as."""
    _, physical, repetition, children, converted, precision, logical, scale = subtree[0]
    if repetition == "REPEATED":  # a legacy list
        return OTHER
    if children:
        return ColumnKind(Kind.TEXT_MAP) if _is_text_map(subtree) else OTHER
    logical = logical or ""
    if physical == "BYTE_ARRAY" and converted == "UTF8":
        return ColumnKind(Kind.TEXT)
    if converted == "DECIMAL" and physical in ("INT32", "INT64", "FIXED_LEN_BYTE_ARRAY",
                                               "BYTE_ARRAY"):
        return ColumnKind(Kind.DECIMAL, scale) if precision <= 38 else OTHER
    if physical in ("INT32", "INT64") and (
            (converted is None and not logical) or converted in _INTEGERS):
        return ColumnKind(Kind.INTEGER)
    if physical == "INT32" and converted == "DATE":
        return ColumnKind(Kind.DATE)
    if physical == "INT64" and logical.startswith("TimestampType(") and "NANOS=<null>" in logical:
        return ColumnKind(Kind.TIMESTAMP)  # milli- or microseconds
    if physical == "INT64" and not logical and converted in ("TIMESTAMP_MILLIS",
                                                             "TIMESTAMP_MICROS"):
        return ColumnKind(Kind.TIMESTAMP)
    if physical == "BOOLEAN" and converted is None and not logical:
        return ColumnKind(Kind.BOOLEAN)
    if physical == "DOUBLE" and converted is None and not logical:
        return ColumnKind(Kind.DOUBLE)
    return OTHER


def _is_text_map(subtree: list[tuple[Any, ...]]) -> bool:
    """A MAP of UTF-8 keys to UTF-8 values: the group, one repeated key_value, two leaves."""
    if len(subtree) != 4:
        return False
    group, entries, key, value = subtree
    return bool(
        group[4] == "MAP" and group[3] == 1 and entries[2] == "REPEATED" and entries[3] == 2
        and all(leaf[1] == "BYTE_ARRAY" and leaf[4] == "UTF8" and not leaf[3]
                for leaf in (key, value)))
