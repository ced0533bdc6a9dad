"""DuckDB's reading of a Parquet footer gives the kinds Arrow reads, or defers to Arrow.

The DuckDB Parquet fast path decides each column's expression on what Arrow reads the column
as (``kind_of_arrow``); ``read_footer`` gets that without importing pyarrow, from the Parquet
physical and logical types DuckDB reports. These tests pin that both agree for every column
type the fast path's tests use (``test_duckdb_parquet_typing.PLAIN`` and ``TRICKY``) and a
few more, on files written by pyarrow (without Arrow's schema metadata), rewritten by DuckDB's
own writer, and on the bundled samples typed by DuckDB; and that a file carrying Arrow's schema
(pyarrow, focus-data-toolkit) is left to Arrow, which can read it differently from its Parquet
types (a ``duration`` stored as a plain INT64).
"""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fixtures.paths import sample_files
from focusflow.focus import FocusReader
from focusflow.focus.parquet_types import (
    ColumnKind,
    Footer,
    Kind,
    footer_from_schema,
    kind_of_arrow,
    read_footer,
)
from unit.sinks.test_duckdb_parquet_typing import PLAIN, TRICKY, duckdb_parquet

MORE: dict[str, pa.Array] = {
    "uint64": pa.array([1, None], pa.uint64()),
    "int8": pa.array([1, None], pa.int8()),
    "decimal(40,2)": pa.array([decimal.Decimal("1.5"), None], pa.decimal256(40, 2)),
    "decimal(9,2)": pa.array([decimal.Decimal("1.5"), None], pa.decimal128(9, 2)),
    "decimal(18,3)": pa.array([decimal.Decimal("1.5"), None], pa.decimal128(18, 3)),
    "date64": pa.array([datetime.date(2026, 5, 1), None], pa.date64()),
    "duration": pa.array([1, None], pa.duration("s")),
    "time": pa.array([datetime.time(1, 2), None], pa.time64("us")),
    "binary": pa.array([b"x", None]),
    "list": pa.array([[1], None]),
    "struct": pa.array([{"x": 1}, None]),
    "null": pa.nulls(2),
    "large string map": pa.array([[("a", "b")], None],
                                 pa.map_(pa.large_string(), pa.large_string())),
}


def cases() -> dict[str, pa.Array]:
    arrays = {name: make() for name, (_, make) in {**PLAIN, **TRICKY}.items()}
    return {**arrays, **MORE}


def from_schema(path: Path) -> Footer:
    con = duckdb.connect()
    try:
        footer = footer_from_schema(con, str(path))
    finally:
        con.close()
    assert footer is not None
    return footer


def arrow_view(path: Path) -> tuple[list[str], list[ColumnKind]]:
    schema = pq.read_schema(path)
    return schema.names, [kind_of_arrow(f.type) for f in schema]


@pytest.mark.parametrize("name", list(cases()))
def test_duckdb_and_arrow_see_the_same_kind_in_pyarrow_and_duckdb_files(
    tmp_path: Path, name: str
) -> None:
    array = cases()[name]
    table = pa.table({"a": pa.array(["x", None]), name: array})
    plain = tmp_path / "plain.parquet"
    pq.write_table(table, plain, store_schema=False)
    rewritten = tmp_path / "duckdb.parquet"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    try:
        con.execute(f"COPY (SELECT * FROM read_parquet('{plain}')) TO '{rewritten}' "
                    "(FORMAT parquet)")
    finally:
        con.close()
    for path in (plain, rewritten):
        footer = read_footer(str(path))
        assert footer is not None, path
        assert (footer.names, footer.kinds) == arrow_view(path), path
        assert footer.num_rows == 2


@pytest.mark.parametrize("name", list(cases()))
def test_a_file_with_arrows_schema_is_left_to_arrow(tmp_path: Path, name: str) -> None:
    path = tmp_path / "arrow.parquet"
    pq.write_table(pa.table({name: cases()[name]}), path)  # pyarrow stores ARROW:schema
    assert read_footer(str(path)) is None
    with FocusReader(str(path), require_mandatory=False) as reader:  # then Arrow decides
        assert reader.parquet_kinds == arrow_view(path)[1]


def test_arrows_schema_can_change_what_a_parquet_type_reads_as(tmp_path: Path) -> None:
    # Why such files are left to Arrow: the Parquet type alone says INT64.
    path = tmp_path / "duration.parquet"
    pq.write_table(pa.table({"d": pa.array([1], pa.duration("s"))}), path)
    assert from_schema(path).kinds[0].kind is Kind.INTEGER
    assert arrow_view(path)[1][0].kind is Kind.OTHER


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_sample_typed_by_duckdb_has_arrows_kinds_without_arrow(
    tmp_path: Path, path: Path
) -> None:
    typed = duckdb_parquet(path, tmp_path / "sample.parquet")
    footer = read_footer(str(typed))
    assert footer is not None
    assert (footer.names, footer.kinds) == arrow_view(typed)
    assert footer.num_rows == pq.ParquetFile(typed).metadata.num_rows


def test_toolkit_files_agree_on_their_parquet_types(toolkit_files: dict[str, Path]) -> None:
    # focus-data-toolkit writes through pyarrow (so Arrow decides in production); the
    # mapping from their Parquet types alone agrees with Arrow's reading all the same.
    parquet = [p for key, p in toolkit_files.items() if key.endswith("/parquet")]
    assert parquet
    for path in parquet:
        footer = from_schema(path)
        assert (footer.names, footer.kinds) == arrow_view(path), path


def test_an_unreadable_file_is_left_to_arrow_for_its_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    assert read_footer(str(path)) is None
