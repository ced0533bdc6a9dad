"""One line for every mistake, exit != 0, nothing written (issue 15 items 6 and 8), through the
real executable: each case printed a traceback, created an empty database or left a truncated
file before.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from fixtures.paths import REPO

pytestmark = pytest.mark.integration

FOCUSFLOW = str(Path(sys.executable).with_name("focusflow"))
AWS = REPO / "examples" / "data" / "focus_1_2_cost_and_usage_aws.csv"


def _run(*args: str | Path, cwd: Path | None = None,
         limit_file_bytes: int | None = None) -> tuple[int, str, str]:
    def limit() -> None:  # a full disk, as the writer sees it: EFBIG past the limit
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, limit_file_bytes))

    done = subprocess.run(
        [FOCUSFLOW, *map(str, args)], capture_output=True, text=True, check=False, cwd=cwd,
        env={**os.environ, "COLUMNS": "300"}, timeout=120,
        preexec_fn=limit if limit_file_bytes else None,
    )
    return done.returncode, done.stdout, done.stderr


def _errors(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return err.splitlines()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "focus.duckdb"
    code, _, err = _run("ingest", AWS, "--db", f"duckdb:///{path}")
    assert code == 0, err
    return path


def test_a_url_without_slashes_is_one_line(tmp_path: Path) -> None:
    code, _, err = _run("summary", "--db", "duckdb:x.duckdb", cwd=tmp_path)
    assert code == 1
    assert _errors(err) == ["error: --db 'duckdb:x.duckdb': expected duckdb:///relative/"
                            "path.duckdb or duckdb:////absolute/path.duckdb"]


@pytest.mark.parametrize("command", [["summary"], ["export", "out.csv"], ["plot"],
                                     ["report"]])
def test_read_only_commands_never_create_a_database(tmp_path: Path, command: list[str]) -> None:
    code, _, err = _run(*command, "--db", "duckdb:///typo.duckdb", cwd=tmp_path)
    assert code == 1
    (line,) = _errors(err)
    assert line.startswith(f"error: no DuckDB database at {tmp_path / 'typo.duckdb'} ")
    assert list(tmp_path.iterdir()) == []


def test_every_command_logs_the_absolute_database_path(tmp_path: Path, loaded: Path) -> None:
    relative = os.path.relpath(loaded, tmp_path)
    code, out, err = _run("summary", "--db", f"duckdb:///{relative}", cwd=tmp_path)
    assert code == 0, err
    assert out.startswith(f"database {loaded}\n")  # resolved against the working directory
    code, out, err = _run("summary", "--db", f"duckdb:///{loaded}", cwd=tmp_path)
    assert out.startswith(f"database {loaded}\n")  # four slashes: absolute
    code, out, _ = _run("export", tmp_path / "o.csv", "--db", f"duckdb:///{relative}",
                        cwd=tmp_path)
    assert f"rows from {loaded} to {tmp_path / 'o.csv'}" in out
    code, out, _ = _run("ingest", AWS, "--db", f"duckdb:///{relative}", cwd=tmp_path)
    assert f"Ingested into {loaded}" in out


def test_export_onto_a_directory_or_an_unwritable_path(tmp_path: Path, loaded: Path) -> None:
    db = f"duckdb:///{loaded}"
    code, _, err = _run("export", tmp_path, "--db", db)
    assert code == 1
    (line,) = _errors(err)
    assert str(tmp_path) in line and "cannot write" in line and "directory" in line, line
    code, _, err = _run("export", "/proc/nowhere/out.csv", "--db", db)
    assert code == 1
    (line,) = _errors(err)
    assert "/proc/nowhere/out.csv" in line and "cannot write" in line, line


def test_export_on_a_full_disk_leaves_the_old_file_whole(tmp_path: Path, loaded: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("the previous export\n")
    code, _, err = _run("export", out, "--db", f"duckdb:///{loaded}",
                        limit_file_bytes=100_000)
    assert code == 1
    (line,) = _errors(err)
    assert str(out) in line and "cannot write" in line and "nothing was written" in line, line
    assert out.read_text() == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temporary left


def test_plot_of_a_text_column_is_one_line(tmp_path: Path, loaded: Path) -> None:
    code, _, err = _run("plot", "--measure", "ServiceName", "--db", f"duckdb:///{loaded}",
                        "-o", tmp_path / "p.png")
    assert code == 1
    assert _errors(err) == ["error: --measure 'ServiceName' is a String column: expected a "
                            "numeric cost column such as EffectiveCost, BilledCost or ListCost"]


def test_a_multi_file_ingest_says_what_became_of_each_file(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(b"".join(AWS.read_bytes().splitlines(keepends=True)[:11]))
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,focus\n1,2,3\n")
    later = tmp_path / "later.csv"
    later.write_bytes(good.read_bytes())
    db = tmp_path / "x.duckdb"
    code, _, err = _run("ingest", good, bad, later, "--db", f"duckdb:///{db}")
    assert code == 1
    (line,) = _errors(err)
    assert line.endswith(f"[{good} committed, {bad} failed, {later} not attempted]"), line
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute('SELECT COUNT(*) FROM focus').fetchone() == (10,)
