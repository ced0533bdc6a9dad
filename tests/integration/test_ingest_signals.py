"""Signals never commit (issue 15 item 3): real SIGINT/SIGTERM sent to a real ``focusflow
ingest`` process at many moments of a load, on DuckDB (fast path and the fallback path that
re-reads the file), PostgreSQL and Delta.

Each run must end in exactly one of two honest states: interrupted (exit 130/143, one line on
stderr, the table exactly as before and the line saying nothing was loaded), or finished (the
file committed in full; exit 0, or 130/143 with a line saying it was committed before the
signal). Before the fix, DuckDB's interrupt read as "rows refused" and the fallback loaded the
whole file after Ctrl-C, exiting 0; other runs printed a ``RuntimeError`` traceback.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.paths import REPO
from fixtures.signals import finish, wait_for_handler
from focusflow.sinks import open_sink

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FOCUSFLOW = Path(sys.executable).with_name("focusflow")
AWS = REPO / "examples" / "data" / "focus_1_2_cost_and_usage_aws.csv"
ROWS = 200  # the small file; the big one repeats its rows (same billing periods)
COPIES = 250  # 50,000 rows: a load of about a second, long enough to land inside every step
MOMENTS = 8  # signals per database and path, spread over one uninterrupted run's duration


def _big_file(path: Path, *, refused_last: bool) -> Path:
    """AWS sample rows repeated; ``refused_last`` puts ``1E2`` (valid FOCUS, outside DuckDB's
    fast-path guard) in the last row, so a DuckDB load takes the fallback re-read."""
    header, _, body = _small_bytes().partition(b"\n")
    data = header + b"\n" + body * COPIES
    if refused_last:
        lines = data.rstrip(b"\n").split(b"\n")
        columns = next(csv.reader([header.decode()]))
        row = next(csv.reader([lines[-1].decode()]))
        row[columns.index("BilledCost")] = "1E2"
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(row)
        lines[-1] = out.getvalue().encode()
        data = b"\n".join(lines) + b"\n"
    path.write_bytes(data)
    return path


def _small_bytes() -> bytes:
    return b"".join(AWS.read_bytes().splitlines(keepends=True)[:ROWS + 1])


def _state(db: str) -> tuple[object, ...]:
    """Rows per source and their BilledCost total, and the number of loads registered."""
    sink = open_sink(db)
    try:
        rows = sink.query("focus", 'SELECT "_focusflow_source" AS s, COUNT(*) AS n, '
                          'SUM("BilledCost") AS c FROM {table} GROUP BY 1 ORDER BY 1')
        loads = sink.query("_focusflow_loads", "SELECT COUNT(*) AS n FROM {table}")
        return (tuple(tuple(r.values()) for r in rows.to_pylist()),
                loads.column(0)[0].as_py())
    finally:
        sink.close()


def _ingest(path: Path, db: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(FOCUSFLOW), "ingest", str(path), "--db", db, "--source-id", "acct",
         "--allow-same-content"],  # the small file is loaded under two sources on purpose
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "250"},
    )




@pytest.fixture(params=["duckdb-fast", "duckdb-fallback", "postgres", "delta"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    kind = str(request.param)
    path = _big_file(tmp_path / "bill.csv", refused_last=kind == "duckdb-fallback")
    if kind.startswith("duckdb"):
        return f"duckdb:///{tmp_path / 'focus.duckdb'}", path
    if kind == "delta":
        return f"delta+file://{tmp_path / 'lake'}", path
    url: str = request.getfixturevalue("postgres_url")
    return url, path


def test_a_signal_at_any_moment_commits_nothing_or_everything(
    target: tuple[str, Path], tmp_path: Path,
) -> None:
    db, path = target
    # The table before: this source's earlier rows (which a load replaces) and another's.
    small = tmp_path / "small.csv"
    small.write_bytes(_small_bytes())
    for source in ("acct", "other"):
        code, _, err = finish(subprocess.Popen(
            [str(FOCUSFLOW), "ingest", str(small), "--db", db, "--source-id", source,
             "--allow-same-content"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        assert code == 0, err
    before = _state(db)[0]

    started = time.monotonic()
    code, _, err = finish(_ingest(path, db))
    duration = time.monotonic() - started
    assert code == 0, err
    loaded = _state(db)[0]
    assert loaded != before
    restore = _ingest(small, db)  # back to the state before, by the product's own replace
    assert finish(restore)[0] == 0
    assert _state(db)[0] == before

    outcomes = {"nothing": 0, "committed": 0}
    for moment in range(MOMENTS):
        signum = (signal.SIGINT, signal.SIGTERM)[moment % 2]
        loads = _state(db)[1]
        process = _ingest(path, db)
        wait_for_handler(process)
        time.sleep(duration * moment / MOMENTS)  # spread over a whole load
        process.send_signal(signum)
        code, out, err = finish(process)
        assert "Traceback" not in out + err
        if code == 0 or (code == -signum and "Ingested into" in out):
            # The signal came after the work was done and its result printed (code -N: during
            # the interpreter's own shutdown, when Python has put the default handlers back;
            # a shell shows 128 + N)
            assert _state(db) == (loaded, loads + 1)
            outcomes["committed"] += 1
        else:
            # One error line, besides log records (progress every 5 s, a Delta commit's INFO)
            lines = [line for line in err.strip().splitlines()
                     if not re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|DEBUG) ", line)]
            assert code == 128 + signum, err
            assert len(lines) == 1, err
            assert lines[0].startswith(f"error: interrupted by {signum.name}: "), err
            if "nothing was loaded" in lines[0]:
                assert _state(db) == (before, loads), lines[0]
                outcomes["nothing"] += 1
            else:
                assert "committed" in lines[0], lines[0]
                assert _state(db) == (loaded, loads + 1)
                outcomes["committed"] += 1
        if _state(db)[0] != before:
            assert finish(_ingest(small, db))[0] == 0
    assert outcomes["nothing"] >= MOMENTS // 2, outcomes  # most signals landed mid-load
