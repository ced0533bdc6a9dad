"""Shared helpers for the benchmarks: synthetic FOCUS files and child-process measurements."""

from __future__ import annotations

import compileall
import csv
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "data" / "focus_1_2_cost_and_usage_azure.csv"
WORK = REPO / "bench" / ".work"


def make_focus_csv(rows: int, out: Path, sample: Path = SAMPLE, *, varied: bool = False) -> Path:
    """A FOCUS CSV of ``rows`` rows from the sample's body (header once).

    Repeated: the body copied as it is (the rows compress to almost nothing in Parquet).
    Varied: each copy ``k`` of the body is a different hour and scale of the same bill, as a
    real export's rows differ: costs and quantities times ``(1000 + 37k mod 997) / 1000``
    (exact decimals, so cost = unit price x quantity still holds), charge periods shifted by
    ``k mod 24`` hours, resource ids and names suffixed with ``-k``. 200k varied rows are
    222 MB of CSV and 14 MB of Parquet, the sizes of the file issue 16 was measured on.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and out.stat().st_size > 0:
        return out
    if varied:
        return _make_varied_csv(rows, out, sample)
    lines = sample.read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], "".join(lines[1:])
    per_copy = len(lines) - 1
    with out.open("w", encoding="utf-8") as handle:
        handle.write(header)
        written = 0
        while written + per_copy <= rows:
            handle.write(body)
            written += per_copy
        handle.writelines(lines[1: 1 + rows - written])
    return out


def _make_varied_csv(rows: int, out: Path, sample: Path) -> Path:
    with sample.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        body = list(reader)
    scaled = [i for i, name in enumerate(header) if name.endswith(("Cost", "Quantity"))]
    shifted = [i for i, name in enumerate(header)
               if name in ("ChargePeriodStart", "ChargePeriodEnd")]
    named = [i for i, name in enumerate(header) if name in ("ResourceId", "ResourceName")]
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        written, copy = 0, 0
        while written < rows:
            factor = Decimal(1000 + (copy * 37) % 997) / 1000
            for source in body[: rows - written]:
                row = list(source)
                for i in scaled:
                    if row[i]:
                        row[i] = _plain(Decimal(row[i]) * factor)
                for i in shifted:
                    if row[i]:
                        moved = datetime.strptime(row[i], "%Y-%m-%dT%H:%M:%SZ") + timedelta(
                            hours=copy % 24)
                        row[i] = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
                for i in named:
                    if row[i]:
                        row[i] = f"{row[i]}-{copy}"
                writer.writerow(row)
            written += min(len(body), rows - written)
            copy += 1
    partial.replace(out)
    return out


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float = 0.0  # user + system of the child: steadier than wall on a busy machine


def run_measured(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``command``; wall time and the child's peak RSS (from wait4)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env={**os.environ, **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        assert process.stderr is not None
        sys.exit(f"{command[0]} failed: {process.stderr.read().decode()[-2000:]}")
    return Run(elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)


FOCUSFLOW = str(Path(sys.executable).with_name("focusflow"))


def compile_bytecode() -> None:
    """Compile focusflow's modules as an install does (pip and the image write bytecode).

    An editable checkout run with ``PYTHONDONTWRITEBYTECODE`` set (as in CI and these dev
    sessions) would otherwise compile every module from source on each run: about 0.07 s of
    CPU the reference does not pay, as its own modules come compiled.
    """
    compileall.compile_dir(REPO / "src" / "focusflow", quiet=1)


def focusflow_ingest(csv: Path, db_url: str) -> tuple[float, float]:
    """``focusflow ingest CSV --db URL`` in a child process: (seconds, peak RSS in MB)."""
    run = focusflow_ingest_run(csv, db_url)
    return run.seconds, run.peak_rss_mb


def focusflow_ingest_run(csv: Path, db_url: str) -> Run:
    """``focusflow ingest CSV --db URL`` in a child process, measured."""
    return run_measured([FOCUSFLOW, "ingest", str(csv), "--db", db_url], env={"COLUMNS": "120"})


def python_snippet(code: str) -> list[str]:
    return [sys.executable, "-c", code]
