"""Benchmark of ``focusflow k8s-export`` against a real Prometheus holding a synthetic cluster.

A cluster of ``--pods`` pods on ``--nodes`` nodes (kube-state-metrics + cAdvisor shapes, one
sample a minute) is written as OpenMetrics and backfilled into TSDB blocks with ``promtool tsdb
create-blocks-from openmetrics`` (one file per 2 h block: promtool re-reads its whole input for
every block it cuts). Then, in the same run:

1. raw: the export's own queries issued straight with httpx (no delay), timed — before and
   after the export, averaged, so neither side gets the warmer cache;
2. export: ``focusflow k8s-export`` over ``--days`` days with ``QUERY_DELAY_SECONDS=0`` into a
   local directory, in a child process (its wall time of the export itself, and its peak RSS);
3. export of 1 day in another child process: peak RSS, to compare with ``--days``.

Prints ``export / raw`` (target <= 1.3) and ``RSS(days) / RSS(1 day)`` (target <= 1.2).
Run: ``.venv/bin/python bench/k8s_export.py [--pods 1000 --nodes 50 --days 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fixtures.ksm_history import Cluster, start_prometheus, write_openmetrics  # noqa: E402
from fixtures.net import stop  # noqa: E402
from focusflow.k8s_export import CATALOGUE, load_settings, run_export  # noqa: E402
from focusflow.k8s_export.layout import step_for, windows_between  # noqa: E402

DAY = 86_400
BLOCK = 7_200
HISTORY_START = 1_790_812_800  # 2026-10-01T00:00:00Z
METRICS = ("cpu_requests", "memory_requests", "cpu_limits", "memory_limits", "cpu_usage",
           "memory_usage", "node_capacity", "node_allocatable", "node_info", "pod_labels",
           "pod_info", "pod_owner")


def _block(args: tuple[Cluster, int, str, str]) -> int:
    """Write one 2 h block of OpenMetrics and turn it into TSDB blocks; returns samples."""
    cluster, start, work, tsdb = args
    path = Path(work) / f"block-{start}.om"
    with path.open("w") as out:
        write_openmetrics(out, cluster, (start, start + BLOCK))
        out.write("# EOF\n")
    samples = sum(1 for line in path.open() if not line.startswith("#"))
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(path),
                    tsdb], check=True, capture_output=True)
    path.unlink()
    return samples


def build_history(cluster: Cluster, work: Path, tsdb: Path) -> int:
    tsdb.mkdir(parents=True, exist_ok=True)
    # Files on TSDB's own 2 h grid: a file straddling two blocks costs promtool two passes.
    starts = range(cluster.start - cluster.start % BLOCK, cluster.end, BLOCK)
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return sum(pool.map(_block, [(cluster, s, str(work), str(tsdb)) for s in starts]))


def job_env(url: str, out: Path, days: int) -> dict[str, str]:
    return {"CLUSTER_NAME": "bench", "S3_BUCKET": out.as_uri(), "PROMETHEUS_URL": url,
            "QUERY_DELAY_SECONDS": "0", "BACKFILL_DAYS": str(days), "RETENTION_DAYS": "0",
            "METRICS": ",".join(METRICS), "SAFETY_LAG_SECONDS": "3600"}


def raw_queries(url: str, now: float, days: int) -> float:
    """The export's queries, straight, each body read in full; seconds taken."""
    frame = 3600
    step = step_for(frame, 60, 11_000)
    first = (int(now - days * DAY) // frame) * frame
    last_end = (int(now - 3600) // frame) * frame
    queries = [CATALOGUE[name].promql() for name in METRICS]
    with httpx.Client(timeout=300) as client:
        began = time.perf_counter()
        for window in windows_between(first, last_end, frame):
            for query in queries:
                answer = client.post(f"{url}/api/v1/query_range", data={
                    "query": query, "start": str(window.start),
                    "end": str(window.end - step), "step": str(step)})
                # Read the whole body but do not decode it: the strictest baseline.
                assert answer.status_code == 200
                assert answer.content.startswith(b'{"status":"success"')
        return time.perf_counter() - began


def child(env_json: str, now: float) -> None:
    """Inside the child process: one export run; prints its own wall time as JSON."""
    os.environ.update(json.loads(env_json))
    began = time.perf_counter()
    report = run_export(load_settings(), now=now)
    print(json.dumps({"seconds": time.perf_counter() - began, "files": report.files}))


def run_child(env: dict[str, str], now: float) -> tuple[float, int, float]:
    """(export seconds, files, peak RSS in MiB) of one export in a child process."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", json.dumps(env), "--now", str(now)],
        stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"export child failed with {process.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    return result["seconds"], result["files"], usage.ru_maxrss / 1024  # ru_maxrss is KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--child")
    parser.add_argument("--now", type=float)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.now)
        return

    # One hour of history before the first exported window (rate() needs 5 minutes of it).
    end = HISTORY_START + args.days * DAY
    cluster = Cluster("bench", nodes=args.nodes, pods=args.pods, start=HISTORY_START - 3600,
                      end=end, interval=args.interval, lean=True)
    now = end + 3600  # the last window ends exactly one safety lag before "now"
    with tempfile.TemporaryDirectory(prefix="k8s-export-bench-") as tmp:
        work = Path(tmp)
        began = time.perf_counter()
        samples = build_history(cluster, work, work / "tsdb")
        print(f"history: {args.pods} pods on {args.nodes} nodes, {args.days} days at "
              f"{args.interval}s: {samples:,} samples backfilled in "
              f"{time.perf_counter() - began:.0f}s")
        server = start_prometheus(work, work / "tsdb")
        try:
            raw_before = raw_queries(server.url, now, args.days)
            seconds, files, rss_days = run_child(job_env(server.url, work / "out-days",
                                                         args.days), now)
            raw_after = raw_queries(server.url, now, args.days)
            _, _, rss_one = run_child(job_env(server.url, work / "out-1d", 1), now)
        finally:
            stop(server.process)
        size = sum(f.stat().st_size for f in (work / "out-days").rglob("*.json.gz"))
        shutil.rmtree(work / "tsdb", ignore_errors=True)
    raw = (raw_before + raw_after) / 2
    print(f"raw queries ({files} range queries): {raw_before:.1f}s / {raw_after:.1f}s "
          f"(mean {raw:.1f}s)")
    print(f"export of {args.days} days ({files} files, {size / 2**20:.1f} MiB gzip): "
          f"{seconds:.1f}s")
    print(f"export / raw = {seconds / raw:.2f}x (target <= 1.3)")
    print(f"peak RSS: 1 day {rss_one:.0f} MiB, {args.days} days {rss_days:.0f} MiB: "
          f"ratio {rss_days / rss_one:.2f}x (target <= 1.2)")


if __name__ == "__main__":
    main()
