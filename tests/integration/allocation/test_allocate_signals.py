"""Signals never commit a streamed allocation (issue 16): real SIGINT/SIGTERM sent to a real
``focusflow allocate`` process at moments spread over a run whose DuckDB load is open while it
still queries Prometheus (the real ``ksm_prometheus`` history, 1-hour chunks).

Each run ends in one of two honest states: interrupted (exit 130/143, one error line, the
window's previous load exactly as it was), or finished (the new load committed in full).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.prometheus import PrometheusServer
from fixtures.signals import finish, wait_for_handler
from focusflow.sinks import open_sink

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FOCUSFLOW = Path(sys.executable).with_name("focusflow")
MOMENTS = 6


def _allocate(url: str, db: str, by: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(FOCUSFLOW), "allocate", "--prometheus", url, "--start", "2025-10-31T18:00:00Z",
         "--end", "2025-11-01T06:00:00Z", "--chunk-hours", "1", "--by", by, "--db", db],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "250", "MAX_ATTEMPTS": "1"})



def _state(db: str) -> tuple[object, ...]:
    sink = open_sink(db)
    try:
        rows = sink.query("k8s_allocation", 'SELECT COUNT(*) AS n, SUM("EffectiveCost") AS c, '
                          'COUNT(DISTINCT "x_Pod") AS pods FROM {table}')
        loads = sink.query("_focusflow_loads", "SELECT COUNT(*) AS n FROM {table}")
        return tuple(rows.to_pylist()[0].values()), loads.column(0)[0].as_py()
    finally:
        sink.close()



def test_a_signal_at_any_moment_commits_nothing_or_the_whole_window(
        ksm_prometheus: PrometheusServer, tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'alloc.duckdb'}"
    assert finish(_allocate(ksm_prometheus.url, db, "namespace"))[0] == 0
    before = _state(db)[0]
    started = time.monotonic()
    code, _, err = finish(_allocate(ksm_prometheus.url, db, "pod"))
    duration = time.monotonic() - started
    assert code == 0, err
    loaded = _state(db)[0]
    assert loaded != before  # by pod: other rows for the same window (same source id)
    assert finish(_allocate(ksm_prometheus.url, db, "namespace"))[0] == 0

    outcomes = {"nothing": 0, "committed": 0}
    for moment in range(MOMENTS):
        signum = (signal.SIGINT, signal.SIGTERM)[moment % 2]
        loads = _state(db)[1]
        process = _allocate(ksm_prometheus.url, db, "pod")
        wait_for_handler(process)
        time.sleep(duration * moment / MOMENTS)
        process.send_signal(signum)
        code, out, err = finish(process)
        assert "Traceback" not in out + err
        lines = [line for line in err.strip().splitlines()
                 if not re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING) ", line)]
        if code == 0 or (code == -signum and "loaded" in out):
            assert _state(db) == (loaded, loads + 1)
            outcomes["committed"] += 1
        elif lines and "committed" in lines[-1]:
            assert code == 128 + signum, err
            assert _state(db) == (loaded, loads + 1)
            outcomes["committed"] += 1
        else:
            assert code == 128 + signum, err
            assert len(lines) == 1, err
            assert lines[0].startswith(f"error: interrupted by {signum.name}: "), err
            assert "nothing was loaded" in lines[0], err
            assert _state(db) == (before, loads), lines[0]
            outcomes["nothing"] += 1
        if _state(db)[0] != before:
            assert finish(_allocate(ksm_prometheus.url, db, "namespace"))[0] == 0
    assert outcomes["nothing"] >= MOMENTS // 2, outcomes  # most signals landed mid-run
