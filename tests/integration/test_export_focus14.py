"""FOCUS 1.4 datasets and conformant, lossless export, through the real CLI.

Files: what the public ``focus-data-toolkit`` generator writes for FOCUS 1.2, 1.3 and 1.4 (all
four datasets) as CSV and typed Parquet (``fixtures.toolkit_files``), and the FOCUS samples of
``shared/data`` bundled under ``examples/data`` and ``tests/data``. Expected values come from
the files themselves (Python's ``csv`` and ``decimal``), not from focusflow.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import signal
import subprocess
import sys
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fixtures.cli import Cli, in_process_cli
from fixtures.paths import sample_files
from focusflow.focus.catalogue import DataType, detect_dataset, lookup
from focusflow.sinks import open_sink

pytestmark = pytest.mark.integration

FOCUSFLOW = Path(sys.executable).with_name("focusflow")
DATASETS = ("CostAndUsage", "ContractCommitment", "InvoiceDetail", "BillingPeriod")
TOOLKIT_KEYS = [
    "1.2/CostAndUsage/csv", "1.2/CostAndUsage/parquet",
    "1.3/CostAndUsage/csv", "1.3/CostAndUsage/parquet",
    "1.3/ContractCommitment/csv", "1.3/ContractCommitment/parquet",
    *(f"1.4/{d}/{f}" for d in DATASETS for f in ("csv", "parquet")),
]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Cli:
    """``focusflow ARGS...`` in-process; no requirements model cached unless a test sets one."""
    monkeypatch.setenv("FOCUSFLOW_CACHE_DIR", str(tmp_path / "no-rules"))
    return in_process_cli(monkeypatch, capsys)


def ok(cli: Cli, *args: str | Path) -> str:
    code, out, err = cli(*args)
    assert code == 0, err
    return out


def table_rows(db: str, table: str) -> pa.Table:
    sink = open_sink(db)
    try:
        data = sink.read_table(table)
    finally:
        sink.close()
    return data.sort_by([(name, "ascending") for name in data.column_names])


@pytest.fixture(params=["duckdb", "postgres", "delta"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A DuckDB file, a fresh database on the real PostgreSQL, or a local Delta Lake folder."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'focus.duckdb'}"
    if request.param == "delta":
        return f"delta+file://{tmp_path / 'lake'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


# -- round trip: ingest -> export -> ingest is identical; validate of the export exits 0 -----
@pytest.mark.parametrize("export_as", ["csv", "parquet", "csv.gz"])
@pytest.mark.parametrize("key", TOOLKIT_KEYS)
def test_toolkit_files_round_trip_identically(
        cli: Cli, toolkit_files: dict[str, Path], tmp_path: Path, key: str,
        export_as: str) -> None:
    db = f"duckdb:///{tmp_path / 'focus.duckdb'}"
    round_trip(cli, db, toolkit_files[key], tmp_path / f"export.{export_as}")


@pytest.mark.parametrize("sample", sample_files(), ids=lambda p: p.name)
def test_shared_samples_round_trip_identically(
        cli: Cli, tmp_path: Path, sample: Path) -> None:
    db = f"duckdb:///{tmp_path / 'focus.duckdb'}"
    round_trip(cli, db, sample, tmp_path / "export.csv")


@pytest.mark.parametrize("dataset", DATASETS)
def test_14_datasets_round_trip_through_every_sql_and_lake_sink(
        cli: Cli, toolkit_files: dict[str, Path], tmp_path: Path, any_db: str,
        dataset: str) -> None:
    round_trip(cli, any_db, toolkit_files[f"1.4/{dataset}/csv"], tmp_path / "out.csv")


def round_trip(cli: Cli, db: str, source: Path, exported: Path) -> None:
    ok(cli, "ingest", source, "--db", db, "--table", "first")
    out = ok(cli, "export", exported, "--db", db, "--table", "first")
    assert f"to {exported}" in out
    assert_format(exported)
    if exported.suffix == ".csv":  # (typed Parquet is judged by type: real-data's item 2)
        code, report, err = cli("validate", "--no-model", exported)
        assert code == 0, report + err
        assert_conformant_text(exported)
    ok(cli, "ingest", exported, "--db", db, "--table", "second")
    first, second = table_rows(db, "first"), table_rows(db, "second")
    assert second.schema == first.schema
    assert second.equals(first)  # every cell, null and type, identical
    assert not list(exported.parent.glob(".*.part"))


def assert_format(path: Path) -> None:
    """A .parquet export is Parquet with FOCUS types, a .gz one gzip, else CSV text."""
    head = path.read_bytes()[:4]
    if path.suffix == ".parquet":
        assert head == b"PAR1"
        schema = pq.read_schema(path)
        kinds = {f.name: f.type for f in schema}
        for name in ("BilledCost", "ContractCommitmentCost"):
            if name in kinds:
                assert pa.types.is_decimal(kinds[name]), kinds[name]
        starts = [t for n, t in kinds.items() if n.endswith("PeriodStart")]
        assert starts and all(t == pa.timestamp("us", tz="UTC") for t in starts)
    elif path.suffix == ".gz":
        assert head[:2] == b"\x1f\x8b"
    else:
        assert head != b"PAR1" and head[:2] != b"\x1f\x8b"


def assert_conformant_text(path: Path) -> None:
    """Date-times 'YYYY-MM-DDTHH:mm:ssZ', decimals without exponent or padding zeros."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert rows
    for name in rows[0]:
        values = [r[name] for r in rows if r[name]]
        if name.endswith(("Cost", "Price", "Quantity", "Percentage")):
            for value in values:
                assert "E" not in value and not (("." in value) and value.endswith("0")), \
                    (name, value)
                Decimal(value)
        if name.endswith(("Start", "End", "Created", "LastUpdated", "Date")):
            for value in values:
                assert len(value) == 20 and value[10] == "T" and value.endswith("Z"), \
                    (name, value)


def test_validate_of_an_export_passes_the_requirements_model(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        focus_rules_cache: Path) -> None:
    """The full FOCUS 1.2 model (not only the catalogue) accepts what export writes."""
    monkeypatch.setenv("FOCUSFLOW_CACHE_DIR", str(focus_rules_cache))
    db = f"duckdb:///{tmp_path / 'focus.duckdb'}"
    for sample in [p for p in sample_files() if "focus_1_2_cost_and_usage" in p.name]:
        code, report, _ = cli("validate", sample)
        assert code == 0 and "requirements model 1.2" in report, report
        ok(cli, "ingest", sample, "--db", db, "--table", sample.stem)
        exported = tmp_path / f"{sample.stem}.csv"
        ok(cli, "export", exported, "--db", db, "--table", sample.stem)
        code, report, err = cli("validate", exported)
        assert code == 0, report + err
        assert "requirements model 1.2" in report


def test_export_text_is_shortest_exact_and_utc(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "edge.csv"
    sample = sample_files()[0]
    with sample.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [next(reader) for _ in range(4)]
    rows[0].update(BilledCost="0", EffectiveCost="0.000000000000000000",
                   ListCost="-0.00000001", ContractedCost="123456789012345678.5")
    rows[1].update(BilledCost="1.50000", EffectiveCost="12", ListCost="1E-7",
                   ContractedCost="0.000001")
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    db = f"duckdb:///{tmp_path / 'focus.duckdb'}"
    ok(cli, "ingest", source, "--db", db)
    ok(cli, "export", tmp_path / "out.csv", "--db", db)
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    by_cost = {r["ContractedCost"]: r for r in written}
    first, second = by_cost["123456789012345678.5"], by_cost["0.000001"]
    assert (first["BilledCost"], first["EffectiveCost"], first["ListCost"]) == \
        ("0", "0", "-0.00000001")
    assert (second["BilledCost"], second["EffectiveCost"], second["ListCost"]) == \
        ("1.5", "12", "0.0000001")
    assert first["BillingPeriodStart"] == rows[0]["BillingPeriodStart"]
    assert first["BillingPeriodStart"].endswith(":00Z")


# -- one table per dataset --------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1.3", "1.4"])
def test_a_dataset_is_never_appended_to_a_table_of_another(
        cli: Cli, toolkit_files: dict[str, Path], any_db: str, version: str) -> None:
    db = any_db
    ok(cli, "ingest", toolkit_files[f"{version}/CostAndUsage/csv"], "--db", db)
    before = table_rows(db, "focus")
    commitments = toolkit_files[f"{version}/ContractCommitment/csv"]
    code, _, err = cli("ingest", commitments, "--db", db)
    assert code != 0
    assert f"{commitments.name}: is a FOCUS Contract Commitment file and table 'focus' holds " \
           "Cost and Usage rows" in " ".join(err.split())
    assert "--table focus_contract_commitment" in err
    assert table_rows(db, "focus").equals(before)  # nothing written
    ok(cli, "ingest", commitments, "--db", db, "--table", "focus_contract_commitment")
    code, _, err = cli("ingest", toolkit_files[f"{version}/CostAndUsage/csv"], "--db", db,
                       "--table", "focus_contract_commitment")
    assert code != 0
    assert "is a FOCUS Cost and Usage file and table 'focus_contract_commitment' holds " \
           "Contract Commitment rows" in " ".join(err.split())


def test_each_14_dataset_loads_into_its_own_table(
        cli: Cli, toolkit_files: dict[str, Path], tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'focus.duckdb'}"
    for dataset in DATASETS:
        source = toolkit_files[f"1.4/{dataset}/parquet"]
        ok(cli, "ingest", source, "--db", db, "--table", dataset)
        assert table_rows(db, dataset).num_rows == pq.read_metadata(source).num_rows
    for dataset in DATASETS:
        for other in DATASETS:
            if other != dataset:
                code, _, err = cli("ingest", toolkit_files[f"1.4/{other}/csv"], "--db", db,
                                   "--table", dataset)
                assert code != 0 and "one table per dataset" in err


def test_summary_of_a_contract_commitment_table_shows_the_commitments(
        cli: Cli, toolkit_files: dict[str, Path], tmp_path: Path) -> None:
    source = toolkit_files["1.4/ContractCommitment/csv"]
    db = f"duckdb:///{tmp_path / 'focus.duckdb'}"
    ok(cli, "ingest", source, "--db", db, "--table", "commitments")
    out = ok(cli, "summary", "--db", db, "--table", "commitments")
    assert "FOCUS Contract Commitment" in out
    assert "Cost by month" not in out
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_category: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        key = (row["ContractCommitmentCategory"], row["ContractCommitmentType"])
        by_category[key] = by_category.get(key, Decimal(0)) + Decimal(
            row["ContractCommitmentCost"] or 0)
    lines = out.splitlines()
    for (category, kind), total in by_category.items():
        assert any(category in line and kind in line and f"{total:,.2f}" in line
                   for line in lines), (category, kind, total)
    for contract in {row["ContractId"] for row in rows}:
        assert contract in out


def test_summary_of_invoice_and_billing_period_tables(
        cli: Cli, toolkit_files: dict[str, Path], tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'focus.duckdb'}"
    invoices = toolkit_files["1.4/InvoiceDetail/csv"]
    ok(cli, "ingest", invoices, "--db", db, "--table", "invoices")
    out = ok(cli, "summary", "--db", db, "--table", "invoices")
    with invoices.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for invoice in {r["InvoiceId"] for r in rows}:
        total = sum(Decimal(r["BilledCost"]) for r in rows if r["InvoiceId"] == invoice)
        assert any(invoice in line and f"{total:,.2f}" in line for line in out.splitlines())
    periods = toolkit_files["1.4/BillingPeriod/csv"]
    ok(cli, "ingest", periods, "--db", db, "--table", "periods")
    out = ok(cli, "summary", "--db", db, "--table", "periods")
    with periods.open(newline="", encoding="utf-8") as handle:
        period = next(csv.DictReader(handle))
    assert any(period["BillingPeriodStart"] in line and period["BillingPeriodStatus"] in line
               for line in out.splitlines())


# -- the export appears whole or not at all ----------------------------------------------------
def big_table(path: Path, rows: int) -> str:
    """A DuckDB file with a typed FOCUS-shaped table of ``rows`` rows (made by DuckDB)."""
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE focus AS SELECT "
        "'2026-05-01 00:00:00+00'::TIMESTAMPTZ AS \"BillingPeriodStart\", "
        "(i / 7.0)::DECIMAL(38, 18) AS \"BilledCost\", "
        "'svc-' || i::VARCHAR AS \"ServiceName\", repeat('x', 200) AS \"x_Padding\", "
        "'s' AS _focusflow_source, 'l' AS _focusflow_load_id "
        f"FROM range({rows}) t(i)")
    con.close()
    return f"duckdb:///{path}"


def test_a_full_disk_leaves_the_earlier_file_and_no_part(tmp_path: Path) -> None:
    db = big_table(tmp_path / "big.duckdb", 20_000)
    out = tmp_path / "out" / "export.csv"
    out.parent.mkdir()
    out.write_text("earlier export\n", encoding="utf-8")

    def small_disk() -> None:  # the process may write files of at most 256 KiB
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))

    done = subprocess.run([str(FOCUSFLOW), "export", str(out), "--db", db],
                          preexec_fn=small_disk, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "250"}, check=False)
    assert done.returncode != 0
    assert "nothing was written" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert out.read_text(encoding="utf-8") == "earlier export\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["export.csv"]


def test_a_killed_export_leaves_no_truncated_file(tmp_path: Path) -> None:
    db = big_table(tmp_path / "big.duckdb", 400_000)
    out = tmp_path / "out" / "export.csv"
    out.parent.mkdir()
    process = subprocess.Popen([str(FOCUSFLOW), "export", str(out), "--db", db],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(out.parent.glob(".export.csv.*.part")):
        assert process.poll() is None, "export finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert not out.exists()  # never a half-written export.csv
    ok_run = subprocess.run([str(FOCUSFLOW), "export", str(out), "--db", db],
                            capture_output=True, text=True, timeout=300, check=False)
    assert ok_run.returncode == 0, ok_run.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        assert sum(1 for _ in csv.reader(handle)) == 400_001


# -- versions focusflow does not read are named as such ---------------------------------------
def test_unsupported_versions_are_named_in_one_line(
        cli: Cli, toolkit_files: dict[str, Path], tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'focus.duckdb'}"
    source = toolkit_files["1.4/BillingPeriod/csv"]
    for command in (("validate", source), ("ingest", source, "--db", db)):
        code, _, err = cli(*command, "--focus-version", "1.5")
        assert code != 0
        assert err.strip().splitlines() == [
            "error: FOCUS 1.5 is not a version focusflow supports "
            "(it reads FOCUS 1.0, 1.1, 1.2, 1.3 and 1.4)"]
    old = tmp_path / "focus05.csv"
    old.write_text("BilledCost,BillingCurrency,ChargeType,Region,ChargePeriodStart\n"
                   "1,USD,Usage,eu-west-1,2023-01-01T00:00:00Z\n", encoding="utf-8")
    for command in (("validate", old), ("ingest", old, "--db", db)):
        code, _, err = cli(*command)
        assert code != 0
        assert "is a FOCUS 0.5 file" in err and "lacks" not in err
        assert len(err.strip().splitlines()) == 1


# -- nothing lost against the raw file -----------------------------------------------------------
def canonical(path: Path) -> list[tuple[tuple[str, object], ...]]:
    """Each row's cells by column name, as values: decimals by value, date-times as instants,
    JSON as objects, empty as null; in a stable row order."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    dataset = detect_dataset(list(rows[0]))
    out = []
    for row in rows:
        cells = []
        for name, value in sorted(row.items()):
            column = lookup(name, dataset)
            kind = column.data_type if column else None
            cell: object = value if value != "" or name.startswith("x_") else None
            if value and kind is DataType.DECIMAL:
                cell = Decimal(value).normalize()
            elif value and kind is DataType.DATETIME:
                cell = datetime.fromisoformat(value.replace("Z", "+00:00"))
            elif value and kind is DataType.JSON:
                cell = json.dumps(json.loads(value), sort_keys=True)
            cells.append((name, cell))
        out.append(tuple(cells))
    return sorted(out, key=repr)


@pytest.mark.parametrize("dataset", DATASETS)
def test_an_export_holds_every_cell_of_the_raw_14_file(
        cli: Cli, toolkit_files: dict[str, Path], tmp_path: Path, dataset: str) -> None:
    source = toolkit_files[f"1.4/{dataset}/csv"]
    db = f"duckdb:///{tmp_path / 'focus.duckdb'}"
    ok(cli, "ingest", source, "--db", db, "--table", dataset)
    ok(cli, "export", tmp_path / "out.csv", "--db", db, "--table", dataset)
    assert canonical(tmp_path / "out.csv") == canonical(source)
    with source.open(newline="", encoding="utf-8") as raw, \
            (tmp_path / "out.csv").open(newline="", encoding="utf-8") as exported:
        assert next(csv.reader(exported)) == next(csv.reader(raw))  # same columns, same order
