"""Exporter benchmark: our vectorised ``/metrics`` render vs a naive prometheus_client exporter.

Prints, measured in the same run on the same generated 200k-row FOCUS report:
- our render of the ``billed_cost`` exposition (Arrow string kernels, no per-row objects),
- the obvious ``prometheus_client`` approach: one ``Gauge.labels(...).set()`` per row, then
  ``generate_latest`` (the reference), and the ratio (target: >= 20x, ours < 1 s),
- the transfer time of the lossless ``/rows`` endpoint (Arrow IPC and CSV) over loopback HTTP,
- the snapshot's memory: what it retains after a poll, a gzip ``/metrics`` and a CSV ``/rows``
  (Arrow memory pool + kept compressed exposition) as a multiple of the CSV file (target
  <= 2x), and the peak RSS of an exporter process polling once (eager render + gzip), less
  that of a process that only imports it.

With ``--clients N`` it measures instead an exporter process serving N concurrent mixed
clients (``_exporter_load.py``: peak RSS vs idle, errors, p99 latencies).

Usage: ``python bench/exporter.py [--rows 200000] [--clients 50 [--seconds 30]]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from rich.console import Console
from rich.table import Table

from _common import SAMPLE, WORK, python_snippet
from _exporter_load import run_load
from focusflow.exporter import Exporter, ExporterConfig
from focusflow.exporter.decode import decode
from focusflow.exporter.exposition import render
from focusflow.exporter.names import sanitize_labels
from focusflow.runtime import HttpServer
from focusflow.runtime.http import Request
from focusflow.sources import Fetched, LocationSource


def make_unique_report(rows: int, out: Path) -> Path:
    """``rows`` rows from the sample, each copy's ResourceId made distinct (one series per row)."""
    if out.exists():
        return out
    sample = pacsv.read_csv(SAMPLE, convert_options=pacsv.ConvertOptions(
        column_types=dict.fromkeys(pacsv.read_csv(SAMPLE).column_names, pa.string())))
    copies, parts = -(-rows // sample.num_rows), []
    for index in range(copies):
        resource = pc.binary_join_element_wise(sample.column("ResourceId").fill_null(""),
                                               f"-{index}", "")
        parts.append(sample.set_column(sample.column_names.index("ResourceId"), "ResourceId",
                                       resource))
    table = pa.concat_tables(parts).slice(0, rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, out, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return out


def naive(text: pa.Table, values: list[float]) -> tuple[float, float, int]:
    """One gauge child per row, the way a prometheus_client exporter is usually written."""
    labels = [c for c in text.column_names if not c.startswith("x_")]
    names = sanitize_labels(labels, snake_case=True)
    start, cpu = time.perf_counter(), time.process_time()
    registry = CollectorRegistry()
    gauge = Gauge("billed_cost", "Billed cost of a FOCUS charge row", names, registry=registry)
    columns = [text.column(c).to_pylist() for c in labels]
    for row, value in enumerate(values):
        gauge.labels(*[(col[row] or "") for col in columns]).set(value)
    body = generate_latest(registry)
    return time.perf_counter() - start, time.process_time() - cpu, len(body)


def best(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Best wall time and best CPU time (process) of ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def retained(report: Path, config: ExporterConfig) -> tuple[float, float]:
    """(bytes a served snapshot retains, CPU s of its poll): eager poll, gzip /metrics, CSV."""
    gc.collect()
    base = pa.total_allocated_bytes()
    exporter = Exporter(config, LocationSource(str(report)))
    cpu = time.process_time()
    assert exporter.poll_once()
    poll_cpu = time.process_time() - cpu
    gzipped = Request("/metrics", {}, {"accept-encoding": "gzip"})
    assert exporter.metrics(gzipped).status == 200
    assert exporter.rows(Request("/rows", {"format": ["csv"]}, {})).status == 200
    gc.collect()
    snapshot = exporter.holder.current
    assert snapshot is not None
    kept = sum(len(part) for part in snapshot.exposition_gzip(b""))  # the kept gzip stream
    return pa.total_allocated_bytes() - base + kept, poll_cpu


# VmHWM, not ru_maxrss: a forked child's ru_maxrss includes this big parent's pages.
EXPORTER_ONCE = """
import sys
from pathlib import Path
from focusflow.exporter import Exporter, ExporterConfig
from focusflow.sources import LocationSource
config = ExporterConfig.parse({"source": sys.argv[1], "pollingInterval": "1h"}, where="bench")
if sys.argv[2] == "poll":
    assert Exporter(config, LocationSource(sys.argv[1])).poll_once()
status = Path("/proc/self/status").read_text().splitlines()
print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def peak_rss(report: Path) -> tuple[float, float]:
    """Peak RSS (MB) of a process polling once, and of one that only imports the exporter."""
    def run(mode: str) -> float:
        done = subprocess.run([*python_snippet(EXPORTER_ONCE), str(report), mode],
                              capture_output=True, check=True, text=True)
        return int(done.stdout.split()[-1]) / 1024
    return run("poll"), run("import")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clients", type=int, default=0,
                        help="run the load benchmark with this many concurrent clients")
    parser.add_argument("--seconds", type=float, default=30.0)
    return parser.parse_args()


def main() -> None:
    args = arguments()
    report = make_unique_report(args.rows, WORK / f"exporter_{args.rows}.csv")
    if args.clients:
        run_load(report, WORK, args.clients, args.seconds)
        return
    config = ExporterConfig.parse({"source": str(report), "pollingInterval": "1h"}, where="b")
    fetched = Fetched(name=report.name, body=report.read_bytes(), content_type="text/csv")
    start = time.perf_counter()
    decoded = decode(fetched, config)
    decode_seconds = time.perf_counter() - start
    rendered = render(decoded, config)
    ours, ours_cpu = best(lambda: render(decoded, config), args.repeat)
    values = decoded.rows.column("BilledCost").cast(pa.float64()).to_pylist()
    reference, reference_cpu, naive_bytes = naive(decoded.text, values)

    exporter = Exporter(config, LocationSource(str(report)))
    assert exporter.poll_once()
    server = HttpServer("127.0.0.1:0", exporter.routes()).start()  # /rows open: no token
    base = f"http://127.0.0.1:{server.port}"
    with httpx.Client(timeout=300) as client:
        arrow_seconds = best(lambda: client.get(f"{base}/rows").raise_for_status(),
                             args.repeat)[0]
        csv_seconds = best(lambda: client.get(f"{base}/rows?format=csv").raise_for_status(),
                           args.repeat)[0]
        metrics_seconds = best(lambda: client.get(f"{base}/metrics").raise_for_status(),
                               args.repeat)[0]
    server.stop()
    snapshot = exporter.holder.current
    assert snapshot is not None

    table = Table(title=f"exporter, {decoded.rows.num_rows:,} rows "
                        f"({report.stat().st_size / 1e6:.0f} MB CSV)")
    table.add_column("measure")
    table.add_column("wall s", justify="right")
    table.add_column("CPU s", justify="right")
    table.add_column("bytes", justify="right")
    table.add_row("decode + type (once per poll)", f"{decode_seconds:.3f}", "", "")
    table.add_row("/metrics render, focusflow (best of N)", f"{ours:.3f}", f"{ours_cpu:.3f}",
                  f"{rendered.size:,}")
    table.add_row("/metrics render, naive prometheus_client", f"{reference:.3f}",
                  f"{reference_cpu:.3f}", f"{naive_bytes:,}")
    table.add_row("GET /metrics over loopback (kept gzip stream)", f"{metrics_seconds:.3f}", "",
                  "")
    table.add_row("GET /rows Arrow IPC over loopback", f"{arrow_seconds:.3f}", "",
                  f"{len(snapshot.arrow):,}")
    table.add_row("GET /rows?format=csv over loopback", f"{csv_seconds:.3f}", "",
                  f"{sum(len(part) for part in snapshot.csv()):,}")
    held, poll_cpu = retained(report, config)
    polled_mb, idle_mb = peak_rss(report)
    size = report.stat().st_size
    table.add_row("poll: fetch, decode, IPC, render + gzip (eager)", "", f"{poll_cpu:.3f}", "")
    table.add_row("snapshot retained (Arrow pool + kept gzip)", "", "", f"{held:,}")
    table.add_row("exporter process peak RSS, less an idle one (MB)", "", "",
                  f"{polled_mb - idle_mb:,.0f}")
    console = Console()
    console.print(table)
    console.print(f"snapshot memory: [bold]{held / size:.2f}x[/] the CSV file retained "
                  f"(target <= 2x) -> {'OK' if held <= 2 * size else 'MISSED'}; exporter peak "
                  f"RSS {(polled_mb - idle_mb) * 2**20 / size:.2f}x the file above an idle "
                  f"process ({polled_mb:,.0f} MB vs {idle_mb:,.0f} MB)")
    ratio, cpu_ratio = reference / ours, reference_cpu / ours_cpu
    console.print(f"render speed-up vs naive prometheus_client: [bold]{ratio:.1f}x[/] wall, "
                  f"{cpu_ratio:.1f}x CPU (target >= 20x); render {ours:.3f} s wall, "
                  f"{ours_cpu:.3f} s CPU (target < 1 s) -> "
                  f"{'OK' if min(ratio, cpu_ratio) >= 20 and ours_cpu < 1 else 'MISSED'}")
    console.print(f"load average during the run: {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} CPUs (wall times inflate under load; CPU times do not)")


if __name__ == "__main__":
    main()
