"""``focusflow ingest`` takes the objects of its imports out of the collector's reach before it
loads: a full collection would otherwise walk them all again mid-load, on the thread DuckDB
pulls rows on (0.06 s per 200k-row load). A one-shot process loses nothing by it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fixtures.paths import EXAMPLES

SAMPLE = EXAMPLES / "focus_1_2_cost_and_usage_azure.csv"
RUN = """
import gc, sys
from focusflow.cli import main
sys.argv = ["focusflow", "ingest", sys.argv[1], "--db", sys.argv[2]]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(gc.get_freeze_count())
"""


def test_ingest_freezes_the_startup_objects_before_loading(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(SAMPLE), f"duckdb:///{tmp_path / 'f.duckdb'}"],
        capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "120"})
    frozen = int(done.stdout.strip().splitlines()[-1])
    assert frozen > 10_000  # the imports' objects (typer, rich, pyarrow, duckdb, focusflow)
