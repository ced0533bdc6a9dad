"""Exit codes keep their meaning on real files: 2 = the input cannot be read, in every command
and output format, with one clear line; ``validate`` suggests only commands that can work.

Real artifacts: the focus-data-toolkit AWS FOCUS 1.2 file (examples/data) cut short after
gzip-compressing it, and the FinOps Foundation's FOCUS 1.0 sample (tests/data).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fixtures.paths import EXAMPLES, FOCUS_SAMPLE_DATA

pytestmark = pytest.mark.integration

AWS_12 = EXAMPLES / "focus_1_2_cost_and_usage_aws.csv"  # focus-data-toolkit, see its SOURCE
UPSTREAM_10 = FOCUS_SAMPLE_DATA / "focus_sample_excerpt.csv"
FOCUSFLOW = str(Path(sys.executable).parent / "focusflow")


def run(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it (exit codes come from its entry point)."""
    return subprocess.run([FOCUSFLOW, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "FOCUSFLOW_CACHE_DIR": str(cache)}, check=False)


@pytest.fixture
def truncated(tmp_path: Path) -> Path:
    packed = gzip.compress(AWS_12.read_bytes())
    path = tmp_path / "focus.csv.gz"
    path.write_bytes(packed[: len(packed) // 3])
    return path


def one_error_line(stderr: str, file: Path) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and str(file) in lines[0]
    assert "truncated" in lines[0]
    return lines[0]


@pytest.mark.parametrize("output", ["text", "json", "junit"])
def test_validate_of_a_truncated_gzip_exits_2(truncated: Path, tmp_path: Path, output: str
                                              ) -> None:
    done = run("validate", str(truncated), "--format", output, cache=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Aborted" not in done.stdout + done.stderr
    line = one_error_line(done.stderr, truncated)
    if output == "json":
        (record,) = [json.loads(x) for x in done.stdout.splitlines() if x.strip()]
        assert record["status"] == "unreadable" and record["file"] == str(truncated)
        assert "truncated" in record["message"]
    elif output == "junit":
        error = ET.fromstring(done.stdout).find(  # noqa: S314 - our own output
            "testsuite/testcase/error")
        assert error is not None and "truncated" in error.get("message", "")
    else:
        assert done.stdout == ""
    assert "unreadable input" in line


@pytest.mark.parametrize("extra", [[], ["--validate"], ["--skip-invalid"]],
                         ids=["plain", "validate", "skip-invalid"])
def test_ingest_of_a_truncated_gzip_exits_2_and_loads_nothing(
    truncated: Path, tmp_path: Path, extra: list[str]
) -> None:
    db = tmp_path / "f.duckdb"
    done = run("ingest", str(truncated), "--db", f"duckdb:///{db}", *extra, cache=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    one_error_line(done.stderr, truncated)
    if db.exists():
        import duckdb  # noqa: PLC0415

        con = duckdb.connect(str(db), read_only=True)
        tables = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        rows = con.execute("SELECT count(*) FROM focus").fetchone() if ("focus",) in tables \
            else (0,)
        con.close()
        assert rows == (0,)


def test_a_missing_file_exits_2_in_ingest_too(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    done = run("ingest", str(missing), "--db", f"duckdb:///{tmp_path / 'f.duckdb'}",
               cache=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "no such file" in done.stderr


def test_a_bad_value_still_exits_1(tmp_path: Path) -> None:
    # The upstream sample's Oracle rows write ChargeFrequency 'Usage-based': a value, not an
    # unreadable file.
    done = run("ingest", str(UPSTREAM_10), "--db", f"duckdb:///{tmp_path / 'f.duckdb'}",
               cache=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "ChargeFrequency" in done.stderr


def test_validate_suggests_rules_fetch_only_where_a_package_ships_the_model(
    tmp_path: Path,
) -> None:
    old = run("validate", str(UPSTREAM_10), cache=tmp_path)  # FOCUS 1.0, empty cache
    note = next(x for x in old.stderr.splitlines() if x.startswith("note:"))
    assert "rules fetch" not in note
    assert "no package publishes a FOCUS 1.0" in note and "--rules FILE" in note
    current = run("validate", str(AWS_12), cache=tmp_path)  # FOCUS 1.2: PyPI ships it
    note = next(x for x in current.stderr.splitlines() if x.startswith("note:"))
    assert "focusflow rules fetch --version 1.2" in note


def test_rules_fetch_of_an_unpublished_version_says_so_plainly(tmp_path: Path) -> None:
    done = run("rules", "fetch", "--version", "1.0", cache=tmp_path)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "no package on PyPI ships a FOCUS 1.0 requirements model" in line
    assert "FOCUS 1.2 models only" in line and "--rules FILE" in line


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_allocate_with_a_truncated_billing_file_exits_2(truncated: Path, tmp_path: Path) -> None:
    # The billing report is read before Prometheus is asked (port 9: nothing listens).
    done = run("allocate", "--prometheus", "http://127.0.0.1:9", "--start",
               "2026-05-01T00:00:00Z", "--end", "2026-05-02T00:00:00Z", "--billing",
               str(truncated), "--db", f"duckdb:///{tmp_path / 'a.duckdb'}", cache=tmp_path)
    assert done.returncode == 2, done.stderr
    one_error_line(done.stderr, truncated)


def test_rules_criteria_suggests_only_what_can_work(tmp_path: Path) -> None:
    done = run("rules", "criteria", "--version", "1.0", cache=tmp_path)
    line = one_line(done.stderr)
    assert "rules fetch" not in line and "no package publishes a FOCUS 1.0" in line
    done = run("rules", "criteria", "--version", "1.2", cache=tmp_path)  # empty cache
    assert "focusflow rules fetch --version 1.2" in one_line(done.stderr)
