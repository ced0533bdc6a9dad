"""Re-loadable rejects, on the FinOps Foundation's FOCUS 1.0 sample and focus-data-toolkit data.

The upstream sample's 7 Oracle rows write ChargeFrequency ``Usage-based`` (FOCUS allows
``Usage-Based``): ``--skip-invalid`` sets them aside into a rejects file that holds the rows as
written (same columns) plus the reasons, and that file, once fixed, loads the 7 rows: the table
then equals the fixed upstream file cell for cell (null counts and sums per column).
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from fixtures import raw_csv
from fixtures.focus_samples import write_csv
from fixtures.paths import FOCUS_SAMPLE_DATA
from focusflow.cli import app
from focusflow.focus import Quarantined
from focusflow.focus.formats import REJECT_COLUMNS
from focusflow.ingest import IngestOptions
from focusflow.ingest import ingest as ingest_api
from focusflow.sinks import open_sink

pytestmark = pytest.mark.integration
runner = CliRunner()
UPSTREAM = FOCUS_SAMPLE_DATA / "focus_sample_excerpt.csv"
ORACLE_ROWS = 7


def ingest(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, ["ingest", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def table(db: Path) -> pa.Table:
    sink = open_sink(f"duckdb:///{db}")
    try:
        return sink.read_table("focus")
    finally:
        sink.close()


def rows_in(db: Path) -> int:
    if not db.exists():
        return 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = con.execute("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_name = 'focus'").fetchone()
        if found == (0,):
            return 0
        count = con.execute("SELECT count(*) FROM focus").fetchone()
    finally:
        con.close()
    assert count is not None
    return int(count[0])


def test_rejects_hold_the_rows_as_written_plus_the_reasons(tmp_path: Path) -> None:
    db, rejects = tmp_path / "f.duckdb", tmp_path / "rejects.csv"
    code, out = ingest(UPSTREAM, "--db", f"duckdb:///{db}", "--skip-invalid",
                       "--rejects", rejects)
    assert code == 0, out
    assert rows_in(db) == 55 - ORACLE_ROWS
    header, rows = raw_csv.read(UPSTREAM)
    reject_header, quarantined = raw_csv.read(rejects)
    assert reject_header == [*header, *REJECT_COLUMNS]
    oracle = [(n, r) for n, r in enumerate(rows, start=1)
              if r[header.index("ProviderName")].text == "Oracle"]
    assert len(quarantined) == len(oracle) == ORACLE_ROWS
    for (number, source), written in zip(oracle, quarantined, strict=True):
        # Each cell reads back as what it was: null where the source wrote NULL, text as text.
        for cell, copy in zip(source, written, strict=False):
            assert raw_csv.is_null(cell, focus=False) == raw_csv.is_null(copy, focus=False)
            if not raw_csv.is_null(cell, focus=False):
                assert copy.text == cell.text and copy.quoted
        reason = dict(zip(REJECT_COLUMNS, (c.text for c in written[len(header):]), strict=True))
        assert reason == {
            "x_rejected_file": str(UPSTREAM), "x_rejected_row": str(number),
            "x_rejected_column": "ChargeFrequency", "x_rejected_rule": "values.allowed",
            "x_rejected_message": "expected one of One-Time, Recurring, Usage-Based, found "
                                  "'Usage-based'",
        }


def test_fixed_rejects_reload_and_the_table_equals_the_fixed_source(tmp_path: Path) -> None:
    db, rejects = tmp_path / "f.duckdb", tmp_path / "rejects.csv"
    assert ingest(UPSTREAM, "--db", f"duckdb:///{db}", "--skip-invalid", "--rejects",
                  rejects)[0] == 0
    fixed = tmp_path / "fixed-rejects.csv"
    fixed.write_text(rejects.read_text(encoding="utf-8").replace('"Usage-based"',
                                                                 '"Usage-Based"'),
                     encoding="utf-8")
    code, out = ingest(fixed, "--db", f"duckdb:///{db}")
    assert code == 0, out
    loaded = table(db)
    assert not set(REJECT_COLUMNS) & set(loaded.column_names)
    # The whole upstream file, fixed the same way: every cell loaded, none twice.
    whole = tmp_path / "whole.csv"
    whole.write_text(UPSTREAM.read_text(encoding="utf-8").replace('"Usage-based"',
                                                                  '"Usage-Based"'),
                     encoding="utf-8")
    decimals = [n for n in loaded.column_names
                if pa.types.is_decimal(loaded.schema.field(n).type)]
    for name, (nulls, total) in raw_csv.column_facts(whole, decimals).items():
        assert loaded.column(name).null_count == nulls, name
        if total is not None:
            assert Decimal(str(pc.sum(loaded.column(name)).as_py() or 0)) == total, name
    assert loaded.num_rows == 55


def test_validate_skip_invalid_names_the_real_source_and_value(
    tmp_path: Path, focus_rules_env: Path
) -> None:
    db, rejects = tmp_path / "f.duckdb", tmp_path / "rejects.csv"
    path = write_csv(tmp_path / "aws.csv", {(2, "ListUnitPrice"): "-3"})  # focus-data-toolkit
    code, out = ingest("--validate", "--skip-invalid", path, "--db", f"duckdb:///{db}",
                       "--rejects", rejects)
    assert code == 0, out
    with rejects.open(newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["x_rejected_file"] == str(path)  # was a deleted temporary file
    assert row["x_rejected_row"] == "2"
    assert row["x_rejected_column"] == "ListUnitPrice"
    assert row["x_rejected_rule"] == "ListUnitPrice-C-008-M"
    assert row["ListUnitPrice"] == "-3"  # the row itself, and the value named
    assert row["x_rejected_message"].endswith("found '-3'")
    con = duckdb.connect(str(db), read_only=True)
    sources = con.execute("SELECT DISTINCT _focusflow_source FROM focus").fetchall()
    con.close()
    assert sources == [(str(path.resolve()),)]


def test_skip_invalid_exits_non_zero_when_nothing_loaded(tmp_path: Path) -> None:
    lines = UPSTREAM.read_text(encoding="utf-8").splitlines()
    oracle = tmp_path / "oracle.csv"
    oracle.write_text("\n".join([lines[0], *(x for x in lines[1:] if '"Usage-based"' in x)])
                      + "\n", encoding="utf-8")
    db, rejects = tmp_path / "f.duckdb", tmp_path / "rejects.csv"
    result = runner.invoke(app, ["ingest", str(oracle), "--db", f"duckdb:///{db}",
                                 "--skip-invalid", "--rejects", str(rejects)])
    assert result.exit_code == 1
    assert f"nothing loaded from {oracle}" in result.output
    assert len(raw_csv.read(rejects)[1]) == ORACLE_ROWS
    assert rows_in(db) == 0
    again = runner.invoke(app, ["ingest", str(oracle), "--db", f"duckdb:///{db}",
                                "--skip-invalid", "--rejects", str(rejects)])
    assert again.exit_code == 1, again.output  # "unchanged" does not hide it
    assert f"nothing loaded from {oracle}" in again.output


@pytest.mark.parametrize(("limit", "loads"), [("6", False), ("7", True), ("10%", False),
                                              ("13%", True)])
def test_max_rejected_fails_a_load_past_the_threshold(tmp_path: Path, limit: str,
                                                      loads: bool) -> None:
    db, rejects = tmp_path / "f.duckdb", tmp_path / "rejects.csv"
    result = runner.invoke(app, ["ingest", str(UPSTREAM), "--db", f"duckdb:///{db}",
                                 "--skip-invalid", "--rejects", str(rejects),
                                 "--max-rejected", limit])
    if loads:  # 7 of 55 rows is 12.7%
        assert result.exit_code == 0, result.output
        assert rows_in(db) == 55 - ORACLE_ROWS
    else:
        assert result.exit_code == 1
        assert f"more than --max-rejected {limit} allows" in result.output
        assert rows_in(db) == 0  # nothing committed
    assert len(raw_csv.read(rejects)[1]) == ORACLE_ROWS  # written either way, to be fixed


def test_a_ragged_row_is_kept_as_written(tmp_path: Path) -> None:
    lines = UPSTREAM.read_text(encoding="utf-8").splitlines()
    ragged_line = lines[3] + ',"extra"'
    source = tmp_path / "ragged.csv"
    source.write_text("\n".join([lines[0], lines[1], lines[2], ragged_line, lines[4]]) + "\n",
                      encoding="utf-8")
    db, rejects = tmp_path / "f.duckdb", tmp_path / "rejects.csv"
    code, out = ingest(source, "--db", f"duckdb:///{db}", "--skip-invalid", "--rejects",
                       rejects)
    assert code == 0, out
    with rejects.open(newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["x_rejected_rule"] == "row.field-count"
    assert row["x_rejected_message"].endswith(ragged_line)


def test_a_quarantine_is_honoured_on_duckdb_without_skip_invalid(tmp_path: Path) -> None:
    # The API: a caller's quarantine alone must keep the DuckDB fast path (which never sees
    # set-aside rows) out of the way.
    db = tmp_path / "f.duckdb"
    path = write_csv(tmp_path / "aws.csv")  # focus-data-toolkit AWS rows
    sink = open_sink(f"duckdb:///{db}")
    try:
        outcome = ingest_api(str(path), sink, IngestOptions(quarantine={
            3: Quarantined("BilledCost", "example.rule", "set aside by the caller")}))
    finally:
        sink.close()
    assert outcome.result.rows_written == 4
    assert [(r.row, r.rule) for r in outcome.rejects] == [(3, "example.rule")]


def test_a_failed_threshold_keeps_the_earlier_sources_rejects(tmp_path: Path) -> None:
    # The first source (3 Oracle rows of 10) loads; the second passes --max-rejected 30%.
    lines = UPSTREAM.read_text(encoding="utf-8").splitlines()
    aws = [x for x in lines[1:] if '"AWS"' in x]
    oracle = [x for x in lines[1:] if '"Usage-based"' in x]
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("\n".join([lines[0], *aws[:7], *oracle[:3]]) + "\n", encoding="utf-8")
    second.write_text("\n".join([lines[0], *aws[7:9], *oracle[3:]]) + "\n", encoding="utf-8")
    db, rejects = tmp_path / "f.duckdb", tmp_path / "rejects.csv"
    result = runner.invoke(app, ["ingest", str(first), str(second), "--db", f"duckdb:///{db}",
                                 "--skip-invalid", "--rejects", str(rejects),
                                 "--max-rejected", "30%"])
    assert result.exit_code == 1
    assert f"{second}: 4 of 6 rows rejected, more than --max-rejected 30% allows" in \
        " ".join(result.output.split())
    assert rows_in(db) == 7  # the first source's valid rows stay loaded
    with rejects.open(newline="", encoding="utf-8") as handle:
        files = [r["x_rejected_file"] for r in csv.DictReader(handle)]
    assert files == [str(first)] * 3 + [str(second)] * 4
