"""Time and size of ``focusflow report`` on a large FOCUS table (README figures).

Loads the three bundled FOCUS 1.2 samples (6,000 rows, May 2026) into a DuckDB file with
``focusflow ingest``, then grows the table to ``--rows`` rows in DuckDB: copy ``k`` shifts the
charge dates back by ``k mod 31`` days (so the rows spread over April and May) and suffixes
``ResourceId`` with ``k`` (so the resource movers rank hundreds of thousands of resources).
Then runs ``focusflow report`` (the console script, end to end: start-up, queries, page) on
the default period (May vs April) and prints wall time, peak RSS and file size.
Run: ``.venv/bin/python bench/report.py [--rows 1000000]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import psutil

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "examples" / "data").glob("focus_1_2_*.csv"))


def build(db: Path, rows: int) -> int:
    subprocess.run([str(Path(sys.executable).parent / "focusflow"), "ingest", *map(str, SAMPLES),
                    "--db", f"duckdb:///{db}", "--table", "focus"], check=True,
                   capture_output=True, cwd=REPO)
    with duckdb.connect(str(db)) as con:
        (base,) = con.execute("SELECT COUNT(*) FROM focus").fetchone() or (0,)
        copies = -(-rows // base)
        con.execute("CREATE TEMP TABLE seed AS SELECT * FROM focus")
        con.execute(
            'INSERT INTO focus SELECT seed.* REPLACE ('
            '"ChargePeriodStart" - to_days(CAST(k % 31 AS INTEGER)) AS "ChargePeriodStart", '
            '"ChargePeriodEnd" - to_days(CAST(k % 31 AS INTEGER)) AS "ChargePeriodEnd", '
            '"ResourceId" || \'-\' || CAST(k AS VARCHAR) AS "ResourceId") '
            "FROM seed, range(1, ?) AS t(k)", [copies])
        (total,) = con.execute("SELECT COUNT(*) FROM focus").fetchone() or (0,)
        con.execute("CHECKPOINT")
    return int(total)


def run_report(db: Path, out: Path) -> tuple[float, int]:
    started = time.perf_counter()
    process = psutil.Popen([str(Path(sys.executable).parent / "focusflow"), "report",
                            "--db", f"duckdb:///{db}", "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    output = process.stdout.read().decode() if process.stdout else ""
    if process.returncode:
        raise SystemExit(output)
    return elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="focusflow-report-bench-") as work:
        db, out = Path(work) / "big.duckdb", Path(work) / "report.html"
        total = build(db, args.rows)
        best = min(run_report(db, out) for _ in range(3))
        print(f"rows: {total:,}")
        print(f"focusflow report: {best[0]:.2f} s wall (best of 3), peak RSS "
              f"{best[1] / 2**20:.0f} MiB, file {out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
