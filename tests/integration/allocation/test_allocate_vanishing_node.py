"""Allocation survives a vanishing node (issue 15 item 7), on the real ``ksm_prometheus``
fixture: its history ends at 2025-11-01T06:00:00Z, so every node's series stop just before that
hour boundary while Prometheus's 5-minute lookback still shows ``kube_node_info`` during
06:00-06:04. Before the fix a window over that hour failed with ``no kube_node_status_capacity
... in the hour starting 1761976800``, loaded nothing and left an empty database file.

Documented choice (docs/allocation.md): a node keeps the capacity it was last seen with for
its remaining presence; a node-hour whose node never showed a capacity is dropped with a
warning.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from fixtures.net import free_port
from fixtures.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

FOCUSFLOW = str(Path(sys.executable).with_name("focusflow"))
LAST_HOUR = 1761976800  # 2025-11-01T06:00:00Z: the nodes' series ended just before it


def _allocate(url: str, db: Path, start: str, end: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FOCUSFLOW, "allocate", "--prometheus", url, "--start", start, "--end", end,
         "--db", f"duckdb:///{db}", "--by", "namespace"],
        capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "COLUMNS": "250", "MAX_ATTEMPTS": "1"})


def test_a_node_vanishing_before_an_hour_boundary_keeps_its_last_capacity(
        ksm_prometheus: PrometheusServer, tmp_path: Path) -> None:
    db = tmp_path / "alloc.duckdb"
    done = _allocate(ksm_prometheus.url, db, "2025-11-01T05:00:00Z", "2025-11-01T07:00:00Z")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            'SELECT epoch("ChargePeriodStart")::BIGINT AS hour, '
            'count(DISTINCT ("x_Cluster", "x_Node")), sum("EffectiveCost") '
            'FROM k8s_allocation GROUP BY 1 ORDER BY 1').fetchall()
    hours = [row[0] for row in rows]
    assert hours == [LAST_HOUR - 3600, LAST_HOUR]
    full, tail = rows
    assert full[1] == tail[1] == 5  # every node of both clusters, in the last hour too
    # 5 of 60 minutes seen in the last hour, priced with the capacity it had before it.
    assert 0 < tail[2] < full[2] / 10


def test_a_failed_run_leaves_no_database_file(tmp_path: Path) -> None:
    db = tmp_path / "alloc.duckdb"
    done = _allocate(f"http://127.0.0.1:{free_port()}", db, "2025-11-01T05:00:00Z",
                     "2025-11-01T07:00:00Z")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert not db.exists()
    assert list(tmp_path.iterdir()) == []
