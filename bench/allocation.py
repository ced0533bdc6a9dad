"""Benchmark of ``focusflow allocate`` against a real Prometheus holding a synthetic cluster.

A cluster of ``--pods`` pods on ``--nodes`` nodes (the kube-state-metrics + cAdvisor shapes of
``tests/fixtures/ksm_history.py``, one sample a minute) over ``--hours`` hours is backfilled into
TSDB blocks with promtool. Then, in the same run and alternating (so neither side gets the
warmer cache):

1. raw: the allocation's own PromQL range queries issued straight with httpx, timed;
2. allocate: the whole run (queries, model, FOCUS rows, one DuckDB load), timed in-process.

Prints ``allocate / raw``: what the model, row building and loading add to the time
Prometheus spends answering. Run: ``.venv/bin/python bench/allocation.py [--pods 600 --nodes 30
--hours 24]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fixtures.ksm_history import Cluster, start_prometheus  # noqa: E402
from fixtures.net import stop  # noqa: E402
from focusflow.allocation import (  # noqa: E402
    ClusterMetrics,
    allocation_settings,
    prometheus_settings,
    run_allocation,
)
from focusflow.allocation import metrics as queries  # noqa: E402
from focusflow.k8s_export import PrometheusClient  # noqa: E402
from focusflow.sinks import open_sink  # noqa: E402

HOUR = 3600
START = 1_790_812_800  # 2026-10-01T00:00:00Z
TEMPLATES = (queries.NODE_Q, queries.CAPACITY_Q, queries.RUNNING_Q, queries.REQUEST_Q,
             queries.CPU_Q, queries.MEMORY_Q, queries.POD_NODE_Q, queries.OWNER_Q,
             queries.REPLICASET_Q)


def raw(url: str, hours: int) -> float:
    """The same range queries (one chunk of ``hours``) straight over HTTP."""
    began = time.perf_counter()
    with httpx.Client(timeout=600) as http:
        for template in TEMPLATES:
            form = {"query": template.format(c="cluster", r=60),
                    "start": str(START + HOUR - 1), "end": str(START + hours * HOUR - 1),
                    "step": str(HOUR)}
            response = http.post(f"{url}/api/v1/query_range", data=form)
            response.raise_for_status()
            response.json()
    return time.perf_counter() - began


def allocate(url: str, hours: int, work: Path) -> tuple[float, int]:
    settings = allocation_settings(
        start=datetime.fromtimestamp(START, UTC),
        end=datetime.fromtimestamp(START + hours * HOUR, UTC), chunk_hours=hours)
    endpoint = prometheus_settings(prometheus_url=url)
    client = PrometheusClient(endpoint)
    sink = open_sink(f"duckdb:///{work / 'alloc.duckdb'}")
    began = time.perf_counter()
    try:
        report = run_allocation(settings, ClusterMetrics(
            client, resolution=60, cluster_label="cluster", default_cluster="bench"),
            None, sink, base_url=endpoint.base_url)
    finally:
        sink.close()
        client.close()
    rows = report.load.rows_written if report.load else 0
    return time.perf_counter() - began, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=600)
    parser.add_argument("--nodes", type=int, default=30)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "bench"))
    from k8s_export import build_history  # noqa: PLC0415 - the benchmark's block builder

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cluster = Cluster("bench", nodes=args.nodes, pods=args.pods, start=START,
                          end=START + args.hours * HOUR)
        samples = build_history(cluster, work, work / "tsdb")
        print(f"history: {args.pods} pods on {args.nodes} nodes, {args.hours} h, "
              f"{samples:,} samples")
        server = start_prometheus(work, work / "tsdb")
        try:
            raw(server.url, args.hours)  # warm-up: load the blocks once
            raws, runs, rows = [], [], 0
            for _ in range(args.rounds):
                raws.append(raw(server.url, args.hours))
                seconds, rows = allocate(server.url, args.hours, work)
                runs.append(seconds)
        finally:
            stop(server.process)
    best_raw, best_run = min(raws), min(runs)
    print(f"raw PromQL ({len(TEMPLATES)} range queries): best {best_raw:.2f}s of {args.rounds}")
    print(f"allocate ({rows:,} rows into DuckDB): best {best_run:.2f}s of {args.rounds}")
    print(f"allocate / raw = {best_run / best_raw:.2f}x")


if __name__ == "__main__":
    main()
