"""Benchmark of ``focusflow allocate`` at cluster scale against a real Prometheus.

Two shapes (``--shape``), each a synthetic cluster with the kube-state-metrics + cAdvisor
series of ``tests/fixtures/ksm_history.py`` (only the families allocation reads) at one sample
every 5 minutes, backfilled into TSDB blocks with ``promtool tsdb create-blocks-from
openmetrics`` and cached under ``bench/.work/`` (a re-run reuses them):

- ``10k-1d``: 10,000 pods on 250 nodes over 1 day;
- ``2k-7d``: 2,000 pods on 50 nodes over 7 days.

Then, interleaved for ``--rounds`` rounds (so neither side gets the warmer cache):

1. raw: the run's own PromQL range queries (the presence query over the window, then the 8
   queries of every chunk of ``--chunk-hours``, in the run's order — a chunk's model inputs,
   the next chunk's, then the chunk's owners — one in flight at a time as in the run) issued
   straight with httpx, each body read in full but not decoded: the strictest reference;
2. allocate: ``focusflow allocate`` as a child process into a fresh DuckDB file: its wall time,
   CPU time and peak RSS (``wait4``).

Prints the medians and ``allocate / raw``. For ``2k-7d`` it also runs ``allocate`` over the
first day alone, to show peak RSS is flat in the window length.
Run: ``.venv/bin/python bench/allocation.py --shape 10k-1d`` (or ``2k-7d``, or ``all``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from _common import FOCUSFLOW, WORK, Run, run_measured  # noqa: E402
from fixtures.ksm_history import Cluster, start_prometheus, write_openmetrics  # noqa: E402
from fixtures.net import stop  # noqa: E402
from focusflow.allocation import CHUNK_HOURS  # noqa: E402
from focusflow.allocation import metrics as queries  # noqa: E402
from focusflow.allocation.ahead import INPUTS, OWNERS  # noqa: E402

HOUR = 3600
BLOCK = 7200
START = 1_790_812_800  # 2026-10-01T00:00:00Z
INTERVAL = 300  # one sample every 5 minutes
# The families the allocation's queries read (the fixture writes more for other tests).
FAMILIES = frozenset({
    "kube_pod_container_resource_requests", "kube_pod_container_status_running",
    "container_cpu_usage_seconds", "container_memory_working_set_bytes",
    "kube_node_status_capacity", "kube_node_info", "kube_pod_info", "kube_pod_owner",
    "kube_replicaset_owner"})


@dataclass(frozen=True)
class Shape:
    pods: int
    nodes: int
    hours: int


SHAPES = {"10k-1d": Shape(10_000, 250, 24), "2k-7d": Shape(2_000, 50, 7 * 24)}


def _block(args: tuple[Cluster, int, str, str]) -> int:
    """One 2 h block of OpenMetrics turned into TSDB blocks; returns its samples."""
    cluster, start, work, tsdb = args
    path = Path(work) / f"block-{start}.om"
    with path.open("w") as out:
        write_openmetrics(out, cluster, (start, start + BLOCK), only=FAMILIES)
        out.write("# EOF\n")
    with path.open() as lines:
        samples = sum(1 for line in lines if not line.startswith("#"))
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(path),
                    tsdb], check=True, capture_output=True)
    path.unlink()
    return samples


def cached_tsdb(name: str, shape: Shape) -> Path:
    """The shape's TSDB under bench/.work, built (and compacted once) on first use."""
    work = WORK / f"allocation-{name}-{INTERVAL}s"
    tsdb, done = work / "tsdb", work / "complete"
    if done.exists():
        print(f"history: cached in {work} ({done.read_text().strip()})")
        return tsdb
    tsdb.mkdir(parents=True, exist_ok=True)
    cluster = Cluster("bench", nodes=shape.nodes, pods=shape.pods, start=START,
                      end=START + shape.hours * HOUR, interval=INTERVAL)
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        samples = sum(pool.map(_block, [(cluster, s, str(work), str(tsdb))
                                        for s in range(START, cluster.end, BLOCK)]))
    # Let Prometheus compact the 2 h blocks once now, not during the timed runs.
    server = start_prometheus(work, tsdb)
    try:
        _settle(tsdb)
    finally:
        stop(server.process)
    done.write_text(f"{samples:,} samples, built in {time.perf_counter() - began:.0f} s\n")
    print(f"history: {done.read_text().strip()}")
    return tsdb


def _settle(tsdb: Path) -> None:
    """Wait until Prometheus's compactor (it runs every minute) leaves the blocks alone."""
    def blocks() -> set[str]:
        return {p.name for p in tsdb.iterdir() if p.is_dir() and len(p.name) == 26}

    seen = blocks()
    while True:
        time.sleep(75)
        now = blocks()
        if now == seen:
            return
        seen = now


def chunks(hours: int, chunk_hours: int) -> list[tuple[int, int]]:
    step = chunk_hours * HOUR
    end = START + hours * HOUR
    return [(s, min(s + step, end)) for s in range(START, end, step)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw(url: str, hours: int, resolution: int, chunk_hours: int) -> float:
    """The run's range queries straight over HTTP, bodies read in full; seconds taken."""
    def get(http: httpx.Client, template: str, *, start: int, end: int) -> None:
        answer = http.post(f"{url}/api/v1/query_range", data={
            "query": template.format(c="cluster", r=resolution), "start": str(start + HOUR - 1),
            "end": str(end - 1), "step": str(HOUR)})
        assert answer.status_code == 200, answer.text[:200]
        assert answer.content.startswith(b'{"status":"success"')

    def templates(names: tuple[str, ...]) -> list[str]:
        return [queries.CHUNK_TEMPLATES[queries.NAMES.index(name)] for name in names]

    spans = chunks(hours, chunk_hours)
    # The run's order: a chunk's model inputs, then the next chunk's, then the chunk's owners.
    order = [(span, templates(INPUTS)) for span in spans[:1]]
    for index, span in enumerate(spans):
        order += [(spans[index + 1], templates(INPUTS))] if index + 1 < len(spans) else []
        order.append((span, templates(OWNERS)))
    began = time.perf_counter()
    with httpx.Client(timeout=600) as http, ThreadPoolExecutor(queries.CONCURRENCY) as pool:
        get(http, queries.NODE_Q, start=START, end=START + hours * HOUR)
        for (start, end), asked in order:
            list(pool.map(partial(get, http, start=start, end=end), asked))
    return time.perf_counter() - began


def allocate(url: str, hours: int, resolution: int, chunk_hours: int, db: Path) -> Run:
    """``focusflow allocate`` over the first ``hours`` hours, as a child process."""
    db.unlink(missing_ok=True)
    def stamp(seconds: int) -> str:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return run_measured([FOCUSFLOW, "allocate", "--prometheus", url, "--start", stamp(START),
                         "--end", stamp(START + hours * HOUR), "--resolution", str(resolution),
                         "--chunk-hours", str(chunk_hours), "--cluster", "bench",
                         "--db", f"duckdb:///{db}"],
                        env={"COLUMNS": "120"})


def rows_in(db: Path) -> int:
    import duckdb  # noqa: PLC0415 - only to count the loaded rows

    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute("SELECT count(*) FROM k8s_allocation").fetchone()
    return int(found[0]) if found else 0


def bench(name: str, rounds: int, resolution: int, chunk_hours: int) -> None:
    shape = SHAPES[name]
    tsdb = cached_tsdb(name, shape)
    work = tsdb.parent
    db = work / "alloc.duckdb"
    print(f"== {name}: {shape.pods:,} pods on {shape.nodes} nodes, {shape.hours} h, one sample "
          f"every {INTERVAL} s, --resolution {resolution}, --chunk-hours {chunk_hours}; "
          f"load average {os.getloadavg()[0]:.2f}")
    server = start_prometheus(work, tsdb)
    try:
        raw(server.url, shape.hours, resolution, chunk_hours)  # warm-up: load the blocks once
        raws: list[float] = []
        runs: list[Run] = []
        days: list[Run] = []
        cpu_raw: list[float] = []  # Prometheus's CPU + this process's while raw ran
        cpu_run: list[float] = []  # Prometheus's CPU + the allocate child's
        pid = server.process.pid
        for _ in range(rounds):
            mine, theirs = time.process_time(), cpu_seconds(pid)
            raws.append(raw(server.url, shape.hours, resolution, chunk_hours))
            cpu_raw.append(time.process_time() - mine + cpu_seconds(pid) - theirs)
            theirs = cpu_seconds(pid)
            runs.append(allocate(server.url, shape.hours, resolution, chunk_hours, db))
            cpu_run.append(runs[-1].cpu_seconds + cpu_seconds(pid) - theirs)
            if shape.hours > 24:
                days.append(allocate(server.url, 24, resolution, chunk_hours, db))
        rows = rows_in(db) if not days else 0
        if days:  # the last file holds the 1-day run: count the full window once more
            allocate(server.url, shape.hours, resolution, chunk_hours, db)
            rows = rows_in(db)
    finally:
        stop(server.process)
    wall = statistics.median(r.seconds for r in runs)
    raw_s = statistics.median(raws)
    print(f"raw PromQL ({1 + 8 * len(chunks(shape.hours, chunk_hours))} range queries): median "
          f"{raw_s:.2f} s of {rounds} ({', '.join(f'{s:.2f}' for s in raws)})")
    print(f"allocate ({rows:,} rows into DuckDB): median {wall:.2f} s wall "
          f"({', '.join(f'{r.seconds:.2f}' for r in runs)}), "
          f"CPU {statistics.median(r.cpu_seconds for r in runs):.2f} s")
    ratios = [r.seconds / s for r, s in zip(runs, raws, strict=True)]
    print(f"allocate / raw = {wall / raw_s:.2f}x (median of per-round ratios "
          f"{statistics.median(ratios):.2f}x: {', '.join(f'{x:.2f}' for x in ratios)})")
    print(f"CPU (Prometheus + client): raw median {statistics.median(cpu_raw):.2f} s, "
          f"allocate median {statistics.median(cpu_run):.2f} s: "
          f"{statistics.median(cpu_run) / statistics.median(cpu_raw):.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    peak = max(r.peak_rss_mb for r in runs)
    print(f"allocate peak RSS: {peak:.0f} MB (max of {rounds})")
    if days:
        day_peak = max(r.peak_rss_mb for r in days)
        print(f"peak RSS 1 day: {day_peak:.0f} MB; {shape.hours // 24} days: {peak:.0f} MB "
              f"({peak / day_peak:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=[*SHAPES, "all"], default="all")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--resolution", type=int, default=INTERVAL,
                        help="allocate --resolution (seconds per running-time sample)")
    parser.add_argument("--chunk-hours", type=int, default=CHUNK_HOURS,
                        help="allocate --chunk-hours (the raw side queries the same chunks)")
    args = parser.parse_args()
    for name in SHAPES if args.shape == "all" else [args.shape]:
        bench(name, args.rounds, args.resolution, args.chunk_hours)


if __name__ == "__main__":
    main()
