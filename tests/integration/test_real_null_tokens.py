"""Nulls as FOCUS files write them, on the FinOps Foundation's own FOCUS 1.0 sample data.

The upstream file writes nulls as an unquoted ``NULL`` and strings quoted: an unquoted NULL must
load as a null, a quoted "NULL" stays text, ``--null-value`` adds other conventions, and a load
loses no cell (null counts and sums per column checked against an independent reading of the
raw file), through DuckDB's fast path and the Arrow path alike.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from fixtures import raw_csv
from fixtures.paths import FOCUS_SAMPLE_DATA
from focusflow.cli import app
from focusflow.errors import InputError
from focusflow.focus import FocusReader
from focusflow.focus.catalogue import DataType
from focusflow.ingest import IngestOptions
from focusflow.ingest.job import _ingest_file
from focusflow.sinks import open_sink

pytestmark = pytest.mark.integration
runner = CliRunner()
UPSTREAM = FOCUS_SAMPLE_DATA / "focus_sample_excerpt.csv"


def upstream_lines(keep: str = "valid") -> list[str]:
    """The upstream lines: header plus the rows FOCUS allows (Oracle writes 'Usage-based')."""
    lines = UPSTREAM.read_text(encoding="utf-8").splitlines()
    if keep == "all":
        return lines
    return [lines[0], *(line for line in lines[1:] if '"Usage-based"' not in line)]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_table(path: Path, db: Path, *, fast: bool, nulls: tuple[str, ...] = ("NULL",)
               ) -> pa.Table:
    sink = open_sink(f"duckdb:///{db}")
    try:
        _ingest_file(str(path), sink, IngestOptions(source_id="s", null_values=nulls), None,
                     offer_text=fast)
        return sink.read_table("focus")
    finally:
        sink.close()


def decimal_columns(path: Path) -> list[str]:
    with FocusReader(str(path)) as reader:
        return [c.name for c in reader.layout.columns
                if c.catalogue is not None and c.catalogue.data_type is DataType.DECIMAL]


def test_the_upstream_sample_loads_with_nulls_where_it_writes_null(tmp_path: Path) -> None:
    source = write(tmp_path / "focus.csv", upstream_lines())
    db = tmp_path / "f.duckdb"
    result = runner.invoke(app, ["ingest", str(source), "--db", f"duckdb:///{db}"])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    try:
        classes = con.execute('SELECT DISTINCT "ChargeClass" FROM focus').fetchall()
        tags = con.execute('SELECT count(*) FROM focus WHERE "Tags" IS NULL').fetchone()
    finally:
        con.close()
    assert classes == [(None,)]
    header, rows = raw_csv.read(source)
    assert tags == (sum(1 for r in rows if r[header.index("Tags")].text == "NULL"),)


@pytest.mark.parametrize("fast", [True, False], ids=["duckdb-fast-path", "arrow-path"])
def test_no_cell_is_lost_null_counts_and_sums_match_the_raw_file(
    tmp_path: Path, fast: bool
) -> None:
    source = write(tmp_path / "focus.csv", upstream_lines())
    decimals = decimal_columns(source)
    expected = raw_csv.column_facts(source, decimals)
    table = load_table(source, tmp_path / "f.duckdb", fast=fast)
    _, rows = raw_csv.read(source)
    assert table.num_rows == len(rows)
    for name, (nulls, total) in expected.items():
        column = table.column(name)
        assert column.null_count == nulls, name
        if total is not None:
            assert Decimal(str(pc.sum(column).as_py() or 0)) == total, name


def test_fast_path_and_arrow_path_load_the_same_table(tmp_path: Path) -> None:
    source = write(tmp_path / "focus.csv", upstream_lines())
    fast = load_table(source, tmp_path / "a.duckdb", fast=True)
    typed = load_table(source, tmp_path / "b.duckdb", fast=False)
    keys = [(n, "ascending") for n in ("ChargePeriodStart", "x_Id" if "x_Id" in
                                       fast.column_names else "Id", "BilledCost")]
    assert fast.sort_by(keys).equals(typed.sort_by(keys))


def quoted_null_file(tmp_path: Path, column: str) -> Path:
    """The upstream rows with the first row's ``column`` written as a quoted "NULL"."""
    lines = upstream_lines()
    header = [c.text for c in raw_csv.tokenize(lines[0])]
    cells = raw_csv.tokenize(lines[1])
    assert cells[header.index(column)] == raw_csv.Cell("NULL", quoted=False)
    cells[header.index(column)] = raw_csv.Cell("NULL", quoted=True)
    lines[1] = raw_csv.render(cells)
    return write(tmp_path / "quoted.csv", lines)


def test_a_quoted_null_stays_text(tmp_path: Path) -> None:
    source = quoted_null_file(tmp_path, "ResourceName")
    table = load_table(source, tmp_path / "f.duckdb", fast=True)
    names = table.column("ResourceName").to_pylist()
    assert names.count("NULL") == 1
    # ... and where text "NULL" is not allowed, the error says how nulls are read.
    refused = quoted_null_file(tmp_path, "ChargeClass")
    with pytest.raises(InputError) as caught:
        load_table(refused, tmp_path / "g.duckdb", fast=False)
    message = str(caught.value)
    assert "row 1, column ChargeClass" in message
    assert "found 'NULL'" in message and "unquoted NULL" in message
    assert "--null-value" in message


def test_null_value_adds_a_convention(tmp_path: Path) -> None:
    r"""The same rows written with MySQL's ``\N`` load only with ``--null-value '\N'``, and then
    exactly as the upstream file does."""
    lines = upstream_lines()
    mysql = [lines[0]] + [
        raw_csv.render([raw_csv.Cell("\\N", False) if c == raw_csv.Cell("NULL", False) else c
                        for c in raw_csv.tokenize(line)])
        for line in lines[1:]]
    source = write(tmp_path / "mysql.csv", mysql)
    db = tmp_path / "f.duckdb"
    refused = runner.invoke(app, ["ingest", str(source), "--db", f"duckdb:///{db}"])
    assert isinstance(refused.exception, InputError)
    assert "found '\\\\N'" in str(refused.exception)
    assert "--null-value" in str(refused.exception)
    loaded = runner.invoke(app, ["ingest", str(source), "--db", f"duckdb:///{db}",
                                 "--null-value", "\\N"])
    assert loaded.exit_code == 0, loaded.output
    with_token = load_table(source, tmp_path / "m.duckdb", fast=True, nulls=("NULL", "\\N"))
    upstream = load_table(write(tmp_path / "u.csv", lines), tmp_path / "u.duckdb", fast=True)
    keys = [("ChargePeriodStart", "ascending"), ("BilledCost", "ascending"),
            ("ResourceId", "ascending")]
    assert with_token.sort_by(keys).equals(upstream.sort_by(keys))


def test_validate_reads_nulls_as_ingest_does(tmp_path: Path) -> None:
    source = write(tmp_path / "focus.csv", upstream_lines())
    clean = runner.invoke(app, ["validate", str(source), "--no-model", "--format", "json"])
    assert "values.allowed" not in clean.output  # unquoted NULL ChargeClass is a null
    quoted = quoted_null_file(tmp_path, "ChargeClass")
    result = runner.invoke(app, ["validate", str(quoted), "--no-model", "--format", "json"])
    assert '"rule": "values.allowed", "column": "ChargeClass"' in result.output
