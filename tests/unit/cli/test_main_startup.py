"""Process start-up of the ``focusflow`` console script: what it sets before importing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fixtures.focus_samples import write_csv


def _openblas_threads(env: dict[str, str]) -> str:
    # The command line runs (its --help), then the child prints what numpy's OpenBLAS was told.
    code = ("import os, sys; sys.argv = ['focusflow', '--help']\n"
            "from focusflow.__main__ import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('threads=' + os.environ.get('OPENBLAS_NUM_THREADS', 'unset'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env).stdout
    return out.strip().splitlines()[-1]


def test_openblas_runs_no_thread_pool() -> None:
    # numpy (pulled in by pyarrow) would start OpenBLAS threads that spin: ~0.1 s CPU per run.
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert _openblas_threads(env) == "threads=1"


def test_a_user_setting_for_openblas_is_kept() -> None:
    assert _openblas_threads({**os.environ, "OPENBLAS_NUM_THREADS": "4"}) == "threads=4"


def test_validate_freezes_what_is_loaded_before_the_scan(tmp_path: Path) -> None:
    # The cyclic collector then skips the libraries' objects at every full collection during
    # the scan (about 0.05 s of CPU on 200k rows). Run in a child: freezing is process-wide.
    csv = write_csv(tmp_path / "f.csv")
    code = ("import gc, sys; from typer.testing import CliRunner; from focusflow.cli import app\n"
            "before = gc.get_freeze_count()\n"
            f"result = CliRunner().invoke(app, ['validate', '--no-model', {str(csv)!r}])\n"
            "print(result.exit_code, before, gc.get_freeze_count() > before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "0" and out[1] == "0" and out[2] == "True", out


def test_nothing_is_left_for_the_last_collection_at_exit(tmp_path: Path) -> None:
    # Python's shutdown collection walked every object of the run once more (0.1 s after a
    # run that imported DuckDB, Arrow and pandas; 20k objects after this small ingest) only
    # for the exit to free them. Frozen when the command returns, none is left to walk.
    csv = write_csv(tmp_path / "f.csv")
    code = ("import gc, sys\n"
            f"sys.argv = ['focusflow', 'ingest', {str(csv)!r}, '--db', "
            f"'duckdb:///{tmp_path / 'f.duckdb'}']\n"
            "from focusflow.__main__ import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print('walked', len(gc.get_objects()))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, env={**os.environ, "COLUMNS": "120"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["walked", "0"], done.stdout
