"""``focusflow ingest --validate``: refuse non-conformant files, or quarantine their bad rows."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from fixtures.focus_samples import write_csv
from focusflow.cli import app
from focusflow.errors import InputError

pytestmark = pytest.mark.integration

runner = CliRunner()


def rows_in(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM focus").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def test_a_clean_file_loads(tmp_path: Path, focus_rules_env: Path) -> None:
    db = tmp_path / "f.duckdb"
    result = runner.invoke(app, ["ingest", "--validate", str(write_csv(tmp_path / "f.csv")),
                                 "--db", f"duckdb:///{db}"])
    assert result.exit_code == 0, result.output
    assert rows_in(db) == 5


def test_a_must_failure_refuses_the_load(tmp_path: Path, focus_rules_env: Path) -> None:
    db = tmp_path / "f.duckdb"
    path = write_csv(tmp_path / "f.csv", {(2, "ListUnitPrice"): "-3"})
    result = runner.invoke(app, ["ingest", "--validate", str(path), "--db", f"duckdb:///{db}"])
    assert isinstance(result.exception, InputError)
    assert "ListUnitPrice-C-008-M on ListUnitPrice (rows 2)" in str(result.exception)
    assert not db.exists() or duckdb.connect(str(db)).execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'focus'"
    ).fetchone() == (0,)


def test_skip_invalid_quarantines_the_offending_rows(
    tmp_path: Path, focus_rules_env: Path
) -> None:
    db, rejects = tmp_path / "f.duckdb", tmp_path / "rejects.csv"
    path = write_csv(tmp_path / "f.csv", {(2, "ListUnitPrice"): "-3",
                                          (4, "ChargeCategory"): "Refund"})
    result = runner.invoke(app, ["ingest", "--validate", "--skip-invalid", str(path),
                                 "--db", f"duckdb:///{db}", "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert rows_in(db) == 3
    with rejects.open(newline="") as handle:
        quarantined = list(csv.DictReader(handle))
    reasons = {int(r["x_rejected_row"]): r["x_rejected_rule"] for r in quarantined}
    assert set(reasons) == {2, 4}
    assert reasons[2] == "ListUnitPrice-C-008-M"
    assert {r["x_rejected_file"] for r in quarantined} == {str(path)}  # not a temporary copy
    # The load kept the original source identity, not the filtered copy's.
    con = duckdb.connect(str(db), read_only=True)
    tables = [r[0] for r in con.execute("SHOW ALL TABLES").fetchall()]
    con.close()
    assert tables
