"""Scraper benchmark: exporter → scraper → DuckDB end to end vs direct ingest of the same file.

Prints, measured in the same run on the same generated FOCUS report:
- direct ``ingest`` of the file into a fresh DuckDB file (the reference),
- the exporter path: the exporter polls the file (decode, type, snapshot), the scraper fetches
  ``/rows`` over loopback HTTP (Arrow IPC) and loads it into a fresh DuckDB file; once as
  ``focusflow run`` wires it (``/metrics`` rendered on demand) and once with the standalone
  exporter's eager ``/metrics`` render included,
- their ratio (target <= 2x), in wall and CPU time.

Usage: ``python bench/scraper.py [--rows 200000]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from _common import WORK, make_focus_csv
from focusflow.exporter import Exporter, ExporterConfig
from focusflow.ingest import IngestOptions, ingest
from focusflow.runtime import HttpServer, endpoint_resolver
from focusflow.scraper import Scraper, ScraperConfig
from focusflow.sinks import open_sink
from focusflow.sources import LocationSource


def measured(fn: Callable[[Path, Path], object], report: Path, db: Path) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    fn(report, db)
    return time.perf_counter() - start, time.process_time() - cpu


def direct(report: Path, db: Path) -> None:
    sink = open_sink(f"duckdb:///{db}")
    try:
        ingest(str(report), sink, IngestOptions(table="focus"))
    finally:
        sink.close()


def through_exporter(report: Path, db: Path, *, eager_metrics: bool = False) -> None:
    config = ExporterConfig.parse({"source": str(report), "pollingInterval": "1h"}, where="b")
    exporter = Exporter(config, LocationSource(str(report)), eager_metrics=eager_metrics)
    server = HttpServer("127.0.0.1:0", exporter.routes()).start()
    try:
        assert exporter.poll_once()
        scraper = Scraper(
            ScraperConfig.parse({"tableName": "focus", "pollingInterval": "1h",
                                 "exporterUrl": f"http://127.0.0.1:{server.port}"}, where="b"),
            endpoint_resolver(None), lambda: SecretStr(f"duckdb:///{db}"), "bench")
        result = scraper.scrape_once()
        assert result is not None and result.rows_written > 0
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    report = make_focus_csv(args.rows, WORK / f"focus_{args.rows}.csv")
    work = WORK / "scraper"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results: dict[str, list[tuple[float, float]]] = {"direct": [], "exporter": [], "eager": []}
    for run in range(args.repeat):
        results["direct"].append(measured(direct, report, work / f"d{run}.duckdb"))
        results["exporter"].append(measured(through_exporter, report, work / f"e{run}.duckdb"))
        results["eager"].append(measured(
            lambda r, d: through_exporter(r, d, eager_metrics=True), report,
            work / f"m{run}.duckdb"))
    best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in results.items()}
    table = Table(title=f"scraper end to end, {args.rows:,} rows "
                        f"({report.stat().st_size / 1e6:.0f} MB CSV)")
    for column in ("path", "wall s", "CPU s"):
        table.add_column(column, justify="left" if column == "path" else "right")
    table.add_row("direct ingest into DuckDB (reference)", f"{best['direct'][0]:.2f}",
                  f"{best['direct'][1]:.2f}")
    table.add_row("exporter -> /rows -> scraper -> DuckDB (focusflow run)",
                  f"{best['exporter'][0]:.2f}", f"{best['exporter'][1]:.2f}")
    table.add_row("same, plus the eager /metrics render (focusflow exporter)",
                  f"{best['eager'][0]:.2f}", f"{best['eager'][1]:.2f}")
    console = Console()
    console.print(table)
    wall = best["exporter"][0] / best["direct"][0]
    cpu = best["exporter"][1] / best["direct"][1]
    console.print(f"exporter path / direct ingest: [bold]{wall:.2f}x[/] wall, {cpu:.2f}x CPU "
                  f"(target <= 2x) -> {'OK' if max(wall, cpu) <= 2 else 'MISSED'}; with the "
                  f"eager /metrics render {best['eager'][0] / best['direct'][0]:.2f}x wall, "
                  f"{best['eager'][1] / best['direct'][1]:.2f}x CPU")
    console.print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
