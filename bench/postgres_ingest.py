"""PostgreSQL ingest benchmark: ``focusflow ingest`` vs a bare ``COPY ... FROM STDIN`` of the file.

Prints, measured in the same run on the same generated FOCUS file and the same server:
- time of a child process streaming the raw CSV into an all-text table with psycopg's
  ``COPY ... FROM STDIN (FORMAT CSV, HEADER)`` (the reference: no typing, no validation),
- time of ``focusflow ingest`` into PostgreSQL (typed NUMERIC/timestamptz/jsonb, validated,
  one transaction with replace-by-period and the loads registry),
- their ratio.

Usage: ``python bench/postgres_ingest.py [--rows 200000] [--db postgresql://...]``. Without
``--db`` a throwaway PostgreSQL cluster is started on a free 127.0.0.1 port (``initdb`` and
``pg_ctl`` on PATH; as root it runs as the ``postgres`` user), and removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

from _common import WORK, make_focus_csv, python_snippet, run_measured

FOCUSFLOW = str(Path(sys.executable).with_name("focusflow"))
PASSWORD = "bench-only-password"  # noqa: S105 - a throwaway loopback cluster

REFERENCE = """
import csv, sys, psycopg
url, path = sys.argv[1], sys.argv[2]
with open(path, newline="", encoding="utf-8") as f:
    header = next(csv.reader(f))
cols = ", ".join('"' + h + '"' for h in header)
with psycopg.connect(url) as con, con.cursor() as cur:
    cur.execute("DROP TABLE IF EXISTS bench_ref")
    cur.execute("CREATE TABLE bench_ref (" + ", ".join('"' + h + '" text' for h in header) + ")")
    copy = "COPY bench_ref (" + cols + ") FROM STDIN (FORMAT CSV, HEADER)"
    with open(path, "rb") as f, cur.copy(copy) as cp:
        while block := f.read(1 << 20):
            cp.write(block)
"""


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    work = Path(tempfile.mkdtemp(prefix="focusflow-bench-pg-"))
    pwfile = work / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(work, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    port, data = _free_port(), work / "data"
    subprocess.run(_as_owner(["initdb", "-D", str(data), "-U", "postgres", "--pwfile",
                              str(pwfile), "--auth-host=scram-sha-256", "-E", "UTF8",
                              "--locale=C", "--no-sync"]), check=True, capture_output=True)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={work}"
    subprocess.run(_as_owner(["pg_ctl", "-D", str(data), "-l", str(work / "log"), "-o",
                              options, "-w", "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_owner(["pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"]),
                       check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def measure(url: str, csv: Path, repeat: int) -> tuple[list[float], list[float], float]:
    reference, ours, rss = [], [], 0.0
    for attempt in range(repeat):
        reference.append(run_measured([*python_snippet(REFERENCE), url, str(csv)]).seconds)
        run = run_measured([FOCUSFLOW, "ingest", str(csv), "--db", url, "--table",
                            f"bench_ff{attempt}"], env={"COLUMNS": "120"})
        ours.append(run.seconds)
        rss = max(rss, run.peak_rss_mb)
    return reference, ours, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", help="an existing PostgreSQL URL (default: a throwaway cluster)")
    args = parser.parse_args()
    csv = make_focus_csv(args.rows, WORK / f"focus_{args.rows}.csv")
    if args.db:
        reference, ours, rss = measure(args.db, csv, args.repeat)
    else:
        with throwaway_cluster() as url:
            reference, ours, rss = measure(url, csv, args.repeat)
    best_ref, best_ours = min(reference), min(ours)
    table = Table(title=f"PostgreSQL ingest, {args.rows:,} rows, {csv.stat().st_size / 1e6:.0f} MB")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("bare COPY of the CSV into text columns (best)", f"{best_ref:.2f} s")
    table.add_row("focusflow ingest --db postgresql:// (best)", f"{best_ours:.2f} s")
    table.add_row("ratio focusflow / bare COPY", f"{best_ours / best_ref:.2f}x")
    table.add_row("focusflow peak RSS", f"{rss:.0f} MB")
    Console().print(table)


if __name__ == "__main__":
    main()
