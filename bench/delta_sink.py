"""Delta sink benchmark: focusflow ingest into Delta vs into DuckDB, and memory vs file size.

Prints, measured in the same run on the same generated FOCUS file:
- time of ``focusflow ingest`` into a fresh DuckDB file (the reference sink),
- time of ``focusflow ingest`` into a fresh local Delta table (staged Parquet + one commit),
- their ratio,
- peak RSS of the Delta ingest at 1x and 2x the file size, and their ratio (streaming: ~1x),
- time of an unchanged reload into Delta (reads the file, commits nothing).

Usage: ``python bench/delta_sink.py [--rows 200000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import shutil

from rich.console import Console
from rich.table import Table

from _common import WORK, focusflow_ingest, make_focus_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    one = make_focus_csv(args.rows, WORK / f"focus_{args.rows}.csv")
    two = make_focus_csv(args.rows * 2, WORK / f"focus_{args.rows * 2}.csv")
    out = WORK / "delta-bench"
    duck, delta, rss1 = [], [], []
    for attempt in range(args.repeat):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        duck.append(focusflow_ingest(one, f"duckdb:///{out / f'ref{attempt}.duckdb'}")[0])
        seconds, peak = focusflow_ingest(one, f"delta+file://{out / 'lake'}")
        delta.append(seconds)
        rss1.append(peak)
    unchanged = focusflow_ingest(one, f"delta+file://{out / 'lake'}")[0]
    seconds2, rss2 = focusflow_ingest(two, f"delta+file://{out / 'lake2x'}")
    shutil.rmtree(out, ignore_errors=True)

    ref, mine, peak1 = min(duck), min(delta), min(rss1)
    table = Table(title=f"Ingest {args.rows:,} rows ({one.stat().st_size / 1e6:.0f} MB FOCUS CSV)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("focusflow ingest into DuckDB (reference)", f"{ref:.2f} s")
    table.add_row("focusflow ingest into Delta (local)", f"{mine:.2f} s")
    table.add_row("ratio Delta / DuckDB", f"{mine / ref:.2f}x")
    table.add_row("unchanged reload into Delta (no commit)", f"{unchanged:.2f} s")
    table.add_row(f"Delta ingest 2x file ({args.rows * 2:,} rows)", f"{seconds2:.2f} s")
    table.add_row("Delta peak RSS at 1x", f"{peak1:.0f} MB")
    table.add_row("Delta peak RSS at 2x", f"{rss2:.0f} MB")
    table.add_row("RSS ratio 2x / 1x", f"{rss2 / peak1:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
