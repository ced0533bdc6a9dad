"""A run imports only what it uses: a Parquet file loaded into DuckDB by the real console entry.

DuckDB reads and types the file itself, so the run never imports pyarrow at all (nor numpy,
which pyarrow imports): DuckDB reads the footer (``focus/parquet_types.py``), the sink creates
the table from the layout and reads its registry without Arrow. Nor does it touch a terminal
progress bar. Each of those imports costs CPU time that DuckDB's own ``read_parquet`` does not
pay (``docs/ingest.md``, Performance); the modules are imported on first use
(``focusflow.lazy``). The file is the bundled Azure FOCUS 1.2 sample, typed by DuckDB's own
Parquet writer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from fixtures.paths import EXAMPLES
from focusflow.lazy import lazy_module

SAMPLE = EXAMPLES / "focus_1_2_cost_and_usage_azure.csv"
# Imported lazily; the Parquet-into-DuckDB path must not touch them.
NOT_NEEDED = ("pyarrow", "numpy", "pyarrow.compute", "pyarrow.csv", "pyarrow.parquet",
              "rich.progress")

RUN_AND_LIST_MODULES = (
    "import atexit, json, sys\n"
    "out = sys.argv.pop(1)\n"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(sys.modules))))\n"
    "sys.argv[0] = 'focusflow'\n"
    "from focusflow.__main__ import main\n"
    "main()\n"
)


def modules_of_a_run(args: list[str], listing: Path) -> tuple[subprocess.CompletedProcess[str],
                                                              set[str]]:
    """Run ``focusflow ARGS`` as the console script does; the modules it had imported."""
    result = subprocess.run([sys.executable, "-c", RUN_AND_LIST_MODULES, str(listing), *args],
                            capture_output=True, text=True, check=False)
    return result, set(json.loads(listing.read_text()))


def test_a_parquet_ingest_into_duckdb_never_imports_pyarrow_nor_a_progress_bar(
    tmp_path: Path,
) -> None:
    parquet = tmp_path / "azure.parquet"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"COPY (SELECT * FROM read_csv(?, header = true)) TO '{parquet}' "
                "(FORMAT parquet)", [str(SAMPLE)])
    con.close()
    db = tmp_path / "focus.duckdb"
    result, modules = modules_of_a_run(["ingest", str(parquet), "--db", f"duckdb:///{db}"],
                                       tmp_path / "modules.json")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = duckdb.connect(str(db), read_only=True).execute(
        "SELECT count(*) FROM focus").fetchall()
    expected = duckdb.connect().execute(
        "SELECT count(*) FROM read_csv(?, header = true)", [str(SAMPLE)]).fetchall()
    assert rows == expected
    # Also proof that the rows took DuckDB's Parquet path: the text path renders the
    # timestamps and doubles with compute kernels.
    assert sorted(set(NOT_NEEDED) & modules) == []
    # Into a database that already holds loads: the registry reads (same content loaded by
    # another source? unchanged?) need no Arrow either, and the unchanged file is kept.
    again, modules = modules_of_a_run(
        ["ingest", str(parquet), "--db", f"duckdb:///{db}"], tmp_path / "again.json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert sorted(set(NOT_NEEDED) & modules) == []
    other, modules = modules_of_a_run(
        ["ingest", str(parquet), "--db", f"duckdb:///{db}", "--source-id", "other"],
        tmp_path / "other.json")
    assert other.returncode != 0
    assert "holds the same content as" in other.stderr
    assert sorted(set(NOT_NEEDED) & modules) == []
    assert duckdb.connect(str(db), read_only=True).execute(
        "SELECT count(*) FROM focus").fetchall() == expected


# What ``validate`` of a CSV file never uses: the compute kernels' generated wrappers (the
# windowed facts call the two kernels they need by name), the Parquet reader and writer,
# pandas, pydantic-settings, progress bars and tables (JSON output), the JUnit writer's XML
# library and the archive reader of ``rules fetch``.
NOT_NEEDED_BY_VALIDATE = ("pyarrow.compute", "pyarrow.parquet", "pandas", "pydantic_settings",
                          "rich.progress", "rich.table", "xml.etree.ElementTree", "tarfile")


def test_validate_of_a_csv_file_imports_only_what_it_runs(
    tmp_path: Path, focus_rules_env: Path,
) -> None:
    # The full 1.2 model, so the windowed facts (dates, JSON) run on Arrow's kernels.
    result, modules = modules_of_a_run(
        ["validate", str(SAMPLE), "--format", "json", "--show-passed"], tmp_path / "m.json")
    assert result.returncode in (0, 1), result.stdout + result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert {v["source"] for v in verdicts} == {"catalogue", "model"}
    assert {"pyarrow", "pyarrow.csv", "duckdb"} <= modules  # the path really ran
    assert sorted(set(NOT_NEEDED_BY_VALIDATE) & modules) == []


# Counts the cyclic collector's passes made during start-up (importing the CLI package, then
# the command's module in ``load_commands``) and those made once the command runs (at exit:
# whether the collector is on, and how much start-up froze).
RUN_AND_COUNT_COLLECTIONS = (
    "import atexit, gc, json, sys\n"
    "out = sys.argv.pop(1)\n"
    "seen = {'start-up': 0, 'after': 0}\n"
    "def starting():\n"
    "    frame = sys._getframe(2)\n"
    "    while frame is not None:\n"
    "        code = frame.f_code\n"
    "        if code.co_name == 'load_commands' or (\n"
    "                code.co_name == '<module>'\n"
    "                and code.co_filename.endswith('focusflow/cli/__init__.py')):\n"
    "            return True\n"
    "        frame = frame.f_back\n"
    "    return False\n"
    "def count(phase, info):\n"
    "    if phase == 'start':\n"
    "        seen['start-up' if starting() else 'after'] += 1\n"
    "gc.callbacks.append(count)\n"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(\n"
    "    {**seen, 'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count()})))\n"
    "sys.argv[0] = 'focusflow'\n"
    "from focusflow.__main__ import main\n"
    "main()\n"
)


def test_start_up_runs_without_the_cyclic_collector_and_the_command_with_it(
    tmp_path: Path, focus_rules_env: Path,
) -> None:
    # Start-up only builds what lives as long as the process; ~130 collector passes over it
    # (one of them full: 15 ms) cost about 25 ms of CPU per command and found nothing.
    listing = tmp_path / "gc.json"
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_COUNT_COLLECTIONS, str(listing), "validate",
         str(SAMPLE), "--format", "json", "--show-passed"],
        capture_output=True, text=True, check=False)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert len(result.stdout.splitlines()) > 600  # every rule's verdict: the command ran
    seen = json.loads(listing.read_text())
    assert seen["start-up"] == 0
    assert seen["enabled"] is True
    assert seen["after"] > 0  # the command itself runs with the collector
    assert seen["frozen"] > 50_000  # what start-up made is frozen, never walked again


def test_the_lazy_modules_still_load_when_a_command_uses_them(tmp_path: Path) -> None:
    # The same file through the Arrow path (a CSV export of the loaded table needs the
    # compute kernels): the stand-ins import the real modules on first use.
    db = tmp_path / "focus.duckdb"
    load, _ = modules_of_a_run(["ingest", str(SAMPLE), "--db", f"duckdb:///{db}",
                                "--skip-invalid", "--rejects", str(tmp_path / "rejects.csv")],
                               tmp_path / "load.json")
    assert load.returncode == 0, load.stdout + load.stderr
    out = tmp_path / "back.csv"
    export, modules = modules_of_a_run(["export", str(out), "--db", f"duckdb:///{db}"],
                                       tmp_path / "export.json")
    assert export.returncode == 0, export.stdout + export.stderr
    assert "pyarrow.compute" in modules
    assert out.read_text().splitlines()[0] == SAMPLE.read_text().splitlines()[0].lstrip("\ufeff")


def test_a_lazy_module_imports_at_first_use_and_keeps_what_was_set_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "focusflow_lazy_probe.py").write_text("ANSWER = 42\nOTHER = 'real'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "focusflow_lazy_probe", raising=False)
    probe = lazy_module("focusflow_lazy_probe")
    assert "focusflow_lazy_probe" not in sys.modules
    probe.OTHER = "patched"  # as a test's monkeypatch would, before the first use
    assert probe.ANSWER == 42
    assert "focusflow_lazy_probe" in sys.modules
    assert probe.OTHER == "patched"


def test_a_csv_ingest_into_duckdb_types_with_arrow_kernels_without_importing_pandas(
    tmp_path: Path,
) -> None:
    # The text fast path has Arrow's kernels type the decimals and date-times on the
    # read-ahead thread (sinks/duckdb/arrow_typing.py). pyarrow's conversion of a Python value
    # (pa.scalar("")) imports pandas, installed for the Databricks connector: 0.15 s of CPU
    # that DuckDB's read_csv does not pay.
    db = tmp_path / "focus.duckdb"
    result, modules = modules_of_a_run(["ingest", str(SAMPLE), "--db", f"duckdb:///{db}"],
                                       tmp_path / "modules.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pyarrow.compute" in modules
    assert "pandas" not in modules
