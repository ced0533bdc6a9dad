"""Acceptance of the foundation (issue 2), through the real CLI, on DuckDB and a real PostgreSQL.

Every test runs once against a DuckDB file in a temporary directory and once against a fresh
database on the throwaway PostgreSQL 15 cluster (``postgres_url``). Expected values are computed
independently of focusflow: DuckDB's own ``read_csv`` for counts and sums, Python's ``csv`` and
``decimal`` for cell-by-cell comparisons.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from fixtures.cli import Cli, in_process_cli
from fixtures.paths import REPO, sample_files
from fixtures.stall_http import stalling_server
from focusflow.errors import SinkError
from focusflow.focus.catalogue import DataType, detect_dataset, lookup
from focusflow.focus.formats import CSV_BLOCK_BYTES
from focusflow.sinks import open_sink

pytestmark = pytest.mark.integration

AWS = REPO / "examples" / "data" / "focus_1_2_cost_and_usage_aws.csv"
GCP = REPO / "examples" / "data" / "focus_1_2_cost_and_usage_gcp.csv"
AZURE_X = REPO / "tests" / "data" / "extensions" / "azure_focus_1_2_with_x_columns.csv"
FOCUSFLOW = Path(sys.executable).with_name("focusflow")

# -- fixtures and helpers --------------------------------------------------------------------
@pytest.fixture(params=["duckdb", "postgres", "delta"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL: a DuckDB file in tmp, a fresh database on the real PostgreSQL, or a
    local Delta Lake folder."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'focus.duckdb'}"
    if request.param == "delta":
        return f"delta+file://{tmp_path / 'lake'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``focusflow ARGS...`` in-process through the console entry point ``main``."""
    return in_process_cli(monkeypatch, capsys)


def ingest_ok(cli: Cli, *args: str | Path) -> str:
    code, out, err = cli("ingest", *args)
    assert code == 0, err
    return out


def read_rows(db: str, table: str = "focus", *, lineage: bool = True) -> list[dict[str, Any]]:
    """Every row of ``table`` as a dict, sorted, straight from the database driver."""
    statement = f'SELECT * FROM "{table}"'
    if db.startswith("duckdb"):
        with duckdb.connect(db.split(":///", 1)[1], read_only=True) as con:
            cursor = con.execute(statement)
            names = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall()
    elif db.startswith("delta"):  # through delta-rs (the partition column is not a row value)
        found = open_sink(db).query(table, "SELECT * EXCLUDE (_focusflow_billing_month) "
                                    "FROM {table}")
        names, rows = found.column_names, [tuple(r.values()) for r in found.to_pylist()]
    else:
        with psycopg.connect(db) as con, con.cursor() as cur:
            cur.execute(statement)
            names = [d.name for d in cur.description or []]
            rows = cur.fetchall()
    records = [dict(zip(names, row, strict=True)) for row in rows]
    if not lineage:
        for record in records:
            del record["_focusflow_source"], record["_focusflow_load_id"]
    return sorted(records, key=lambda r: repr(sorted(r.items())))


def count_rows(db: str, table: str = "focus") -> int | None:
    """Rows in ``table``, or None when it does not exist."""
    sink = open_sink(db)
    try:
        return int(sink.query(table, "SELECT COUNT(*) AS n FROM {table}").column(0)[0].as_py())
    except SinkError:  # "does not exist" is the answer we look for
        return None
    finally:
        sink.close()


def expected_totals(path: Path, money: str) -> dict[str | None, tuple[int, Decimal]]:
    """Rows and exact SUM(money) per BillingCurrency, by DuckDB's own CSV reader."""
    with duckdb.connect() as con:
        rows = con.execute(
            f'SELECT "BillingCurrency", COUNT(*), SUM(CAST("{money}" AS DECIMAL(38, 18))) '
            "FROM read_csv(?, header = true, all_varchar = true) GROUP BY 1", [str(path)]
        ).fetchall()
    return {currency: (count, Decimal(total or 0)) for currency, count, total in rows}


def loaded_totals(db: str, money: str, table: str = "focus") -> dict[str | None, tuple[int,
                                                                                       Decimal]]:
    sink = open_sink(db)
    try:
        rows = sink.query(table, f'SELECT "BillingCurrency" AS c, COUNT(*) AS n, SUM("{money}") '
                          "AS s FROM {table} GROUP BY 1").to_pylist()
    finally:
        sink.close()
    return {r["c"]: (r["n"], Decimal(r["s"] or 0)) for r in rows}


def read_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        return next(reader), list(reader)


def write_csv_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def sample_subset(path: Path, out: Path, start: int, stop: int,
                  change: Callable[[dict[str, str]], None] | None = None) -> Path:
    header, rows = read_csv_rows(path)
    picked = []
    for row in rows[start:stop]:
        record = dict(zip(header, row, strict=True))
        if change:
            change(record)
        picked.append([record[name] for name in header])
    return write_csv_rows(out, header, picked)


def read_cells(path: Path) -> pa.Table:
    """A CSV's cells as text, as FOCUS reads them: unquoted empty = null, quoted "" = ""."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        names = next(csv.reader(handle))
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    ), parse_options=pacsv.ParseOptions(newlines_in_values=True))


def canonical_rows(table: pa.Table) -> list[tuple[str | None, ...]]:
    """Rows in comparable form: decimals by value, date-times as instants, JSON parsed."""
    dataset = detect_dataset(table.column_names)
    columns = []
    for name, values in zip(table.column_names, table.columns, strict=True):
        column = lookup(name, dataset)
        kind = column.data_type if column else DataType.STRING
        columns.append([None if v is None else _canonical(kind, v) for v in values.to_pylist()])
    return sorted(zip(*columns, strict=True), key=repr)


def _canonical(kind: DataType, value: str) -> str:
    if value == "" or kind is DataType.STRING:
        return value
    if kind is DataType.DECIMAL:
        return str(Decimal(value).normalize())
    if kind is DataType.DATETIME:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    return json.dumps(json.loads(value), sort_keys=True)


# -- every sample: exact counts and sums, and a lossless round trip ---------------------------
@pytest.mark.parametrize("sample", sample_files(), ids=lambda p: p.name)
def test_every_sample_loads_exactly_and_exports_the_same_cells(
        cli: Cli, db: str, sample: Path, tmp_path: Path) -> None:
    ingest_ok(cli, sample, "--db", db, "--table", "focus")
    header, _ = read_csv_rows(sample)
    money = "BilledCost" if "BilledCost" in header else "ContractCommitmentCost"
    expected = expected_totals(sample, money)
    assert sum(n for n, _ in expected.values()) > 0
    assert loaded_totals(db, money) == expected  # row counts and sums, to the last digit

    out = tmp_path / "export.csv"
    code, _, err = cli("export", out, "--db", db, "--table", "focus")
    assert code == 0, err
    source, exported = read_cells(sample), read_cells(out)
    # every column, x_* and Tags included, in file order; nulls and empty strings kept apart
    assert exported.column_names == source.column_names
    assert canonical_rows(exported) == canonical_rows(source)


# -- idempotence and restatement ---------------------------------------------------------------
def test_same_file_twice_changes_nothing(cli: Cli, db: str) -> None:
    ingest_ok(cli, AZURE_X, "--db", db)
    before = read_rows(db)
    out = ingest_ok(cli, AZURE_X, "--db", db)
    assert "unchanged" in out
    assert read_rows(db) == before
    assert count_rows(db, "_focusflow_loads") == 1


def test_restated_period_replaces_only_that_period_of_that_source(
        cli: Cli, db: str, tmp_path: Path) -> None:
    def april(record: dict[str, str]) -> None:
        record["BillingPeriodStart"] = "2026-04-01T00:00:00Z"
        record["BillingPeriodEnd"] = "2026-05-01T00:00:00Z"

    def doubled(record: dict[str, str]) -> None:
        record["BilledCost"] = str(Decimal(record["BilledCost"]) * 2)

    may = sample_subset(AWS, tmp_path / "may.csv", 0, 300)
    apr = sample_subset(AWS, tmp_path / "apr.csv", 0, 200, april)
    other = sample_subset(GCP, tmp_path / "other.csv", 0, 100)
    restated = sample_subset(AWS, tmp_path / "may-restated.csv", 100, 250, doubled)
    for path in (may, apr):
        ingest_ok(cli, path, "--db", db, "--source-id", "acct")
    ingest_ok(cli, other, "--db", db, "--source-id", "other")
    before = read_rows(db)
    out = ingest_ok(cli, restated, "--db", db, "--source-id", "acct")
    assert "replaced 300 earlier rows" in out
    after = read_rows(db)

    def part(rows: list[dict[str, Any]], source: str, month: int) -> list[dict[str, Any]]:
        return [r for r in rows if r["_focusflow_source"] == source
                and r["BillingPeriodStart"].month == month]

    assert part(after, "acct", 4) == part(before, "acct", 4) and len(part(after, "acct", 4)) == 200
    assert part(after, "other", 5) == part(before, "other", 5) and len(part(after, "other", 5))
    assert len(part(after, "acct", 5)) == 150
    sink = open_sink(db)
    try:
        may_sum = sink.query("focus", 'SELECT SUM("BilledCost") AS s FROM {table} WHERE '
                             "\"_focusflow_source\" = 'acct' AND \"BillingPeriodStart\" = ?",
                             [datetime.fromisoformat("2026-05-01T00:00:00+00:00")])
    finally:
        sink.close()
    assert Decimal(may_sum.column(0)[0].as_py()) == expected_totals(restated, "BilledCost")[
        "USD"][1]


# -- a killed load leaves the table as it was --------------------------------------------------
def _copy_in_progress(db: str) -> bool:
    with psycopg.connect(db) as con:
        row = con.execute("SELECT COALESCE(MAX(tuples_processed), 0) FROM "
                          "pg_stat_progress_copy WHERE datname = current_database()").fetchone()
    return bool(row and row[0] > 0)


def _tcp_queues(port_a: int, port_b: int) -> tuple[int, int] | None:
    """(tx_queue, rx_queue) of the loopback socket from ``port_a`` to ``port_b``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(addr.split(":")[1], 16) for addr in fields[1:3])
        if (local, remote) == (port_a, port_b):
            tx, rx = (int(q, 16) for q in fields[4].split(":"))
            return tx, rx
    return None


def _client_read_everything(server_port: int, client_port: int) -> bool:
    """True once the client process has read every byte the server sent (queues empty)."""
    client = _tcp_queues(client_port, server_port)
    server = _tcp_queues(server_port, client_port)
    return client is not None and server is not None and client[1] == 0 and server[0] == 0


@pytest.mark.slow
def test_killed_ingest_leaves_the_table_as_before(cli: Cli, db: str, tmp_path: Path) -> None:
    ingest_ok(cli, sample_subset(AWS, tmp_path / "acct.csv", 0, 300), "--db", db,
              "--source-id", "acct")
    ingest_ok(cli, sample_subset(GCP, tmp_path / "other.csv", 0, 100), "--db", db,
              "--source-id", "other")
    before = read_rows(db)
    # The part sent before the stall holds more than one CSV block, so whole batches reach the
    # database before the kill.
    header_line, _, body = AWS.read_bytes().partition(b"\n")
    big = header_line + b"\n" + body * _copies_for(1.6 * CSV_BLOCK_BYTES, len(body))
    with stalling_server(big, cut=len(big) * 3 // 4) as server, \
            (tmp_path / "ingest.log").open("wb") as log:
        env = {**os.environ, "COLUMNS": "200"}
        process = subprocess.Popen(
            [str(FOCUSFLOW), "ingest", server.url, "--db", db, "--source-id", "acct"],
            stdout=subprocess.DEVNULL, stderr=log, env=env,
        )
        try:
            assert server.sent.wait(120), "the client never read the first part"
            # Synchronise on observable state, not on time: the client has read all we sent,
            # i.e. more than one CSV block (and, on PostgreSQL, the server is inside the COPY
            # with rows in it).
            _wait_until(lambda: _client_read_everything(server.port, server.client_port),
                        process)
            if db.startswith("postgresql"):
                _wait_until(lambda: _copy_in_progress(db), process)
            process.send_signal(signal.SIGKILL)
            assert process.wait(30) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(30)
    assert read_rows(db) == before  # the DuckDB file also reopens cleanly here
    assert count_rows(db, "_focusflow_loads") == 2


def _copies_for(size: float, body: int) -> int:
    return int(size // body) + 1


def _wait_until(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    for _ in range(3000):
        if condition():
            return
        assert process.poll() is None, "focusflow ingest exited early"
        time.sleep(0.01)  # a bounded poll of observable state, not a sync-by-sleep
    pytest.fail("condition not reached within 30 s")


# -- malformed inputs --------------------------------------------------------------------------
def _ragged(header: list[str], rows: list[list[str]]) -> bytes:
    rows[6] = [*rows[6], "extra"]
    return _csv_bytes(header, rows)


def _set(column: str, value: str) -> Callable[[list[str], list[list[str]]], bytes]:
    def make(header: list[str], rows: list[list[str]]) -> bytes:
        rows[6][header.index(column)] = value
        return _csv_bytes(header, rows)

    return make


def _drop(column: str) -> Callable[[list[str], list[list[str]]], bytes]:
    def make(header: list[str], rows: list[list[str]]) -> bytes:
        index = header.index(column)
        return _csv_bytes([h for i, h in enumerate(header) if i != index],
                          [[c for i, c in enumerate(r) if i != index] for r in rows])

    return make


def _csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode()


MALFORMED: dict[str, tuple[Callable[[list[str], list[list[str]]], bytes], list[str]]] = {
    "ragged-row": (_ragged, ["row 7", "fields"]),
    "bad-decimal": (_set("BilledCost", "12.3.4"), ["row 7", "column BilledCost"]),
    "bad-date": (_set("ChargePeriodStart", "2026-13-45T00:00:00Z"),
                 ["row 7", "column ChargePeriodStart"]),
    "unknown-charge-category": (_set("ChargeCategory", "Bogus"),
                                ["row 7", "column ChargeCategory", "Bogus"]),
    "empty-file": (lambda h, r: b"", ["empty"]),
    "binary-garbage": (lambda h, r: bytes(range(256)) * 64, ["binary"]),
    "missing-mandatory-column": (_drop("BilledCost"), ["header", "BilledCost"]),
}
# Input that cannot be read at all exits 2; a bad value or header exits 1 (issue 14 item 7).
UNREADABLE = {"ragged-row", "empty-file", "binary-garbage"}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input_is_one_clear_line_and_commits_nothing(
        cli: Cli, db: str, tmp_path: Path, case: str) -> None:
    kept = sample_subset(GCP, tmp_path / "kept.csv", 0, 50)
    ingest_ok(cli, kept, "--db", db, "--source-id", "kept")
    before = read_rows(db)
    header, rows = read_csv_rows(AWS)
    make, expected = MALFORMED[case]
    bad = tmp_path / f"{case}.csv"
    bad.write_bytes(make(header, rows[:20]))
    code, out, err = cli("ingest", bad, "--db", db, "--source-id", "kept")
    assert code == (2 if case in UNREADABLE else 1)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and str(bad) in lines[0]
    for part in expected:
        assert part in lines[0]
    assert "Traceback" not in out + err
    assert read_rows(db) == before


def test_bad_row_after_many_good_batches_commits_nothing(cli: Cli, db: str,
                                                          tmp_path: Path) -> None:
    header, rows = read_csv_rows(AWS)
    # More than one CSV block: earlier batches reach the database before the bad row.
    many = rows * _copies_for(1.2 * CSV_BLOCK_BYTES, AWS.stat().st_size)
    many[-1] = list(many[-1])
    many[-1][header.index("BilledCost")] = "not-a-number"
    bad = write_csv_rows(tmp_path / "late-error.csv", header, many)
    code, _, err = cli("ingest", bad, "--db", db)
    assert code == 1
    assert f"row {len(many)}, column BilledCost" in err
    assert count_rows(db) in (None, 0)


def test_cli_subprocess_prints_one_red_line(tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'focus.duckdb'}"  # the error comes before any write
    header, rows = read_csv_rows(AWS)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_set("BilledCost", "abc")(header, rows[:20]))
    done = subprocess.run([str(FOCUSFLOW), "ingest", str(bad), "--db", db],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "COLUMNS": "250"})
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: {bad}, row 7, column BilledCost: expected a decimal "
                                   "number (Numeric Format, at most 18 fractional digits), "
                                   "found 'abc'")


def test_skip_invalid_quarantines_bad_rows(cli: Cli, db: str, tmp_path: Path) -> None:
    header, rows = read_csv_rows(AWS)
    rows = rows[:50]
    rows[4][header.index("BilledCost")] = "abc"
    rows[9][header.index("ChargeCategory")] = "Bogus"
    rows[14] = [*rows[14], "extra"]
    bad = write_csv_rows(tmp_path / "some-bad.csv", header, rows)
    rejects = tmp_path / "rejects.csv"
    code, out, err = cli("ingest", bad, "--db", db, "--skip-invalid", "--rejects", rejects)
    assert code == 0, err
    assert "3 invalid rows quarantined" in out
    assert count_rows(db) == 47
    reject_header, quarantined = read_csv_rows(rejects)
    # The rejects file holds the rows (same columns) plus the reason columns (issue 14).
    assert reject_header[:len(header)] == header
    at = {name: reject_header.index(f"x_rejected_{name}") for name in ("row", "column")}
    assert sorted((int(r[at["row"]]), r[at["column"]]) for r in quarantined) == [
        (5, "BilledCost"), (10, "ChargeCategory"), (15, "")]


# -- table names -------------------------------------------------------------------------------
def test_hostile_table_name_is_refused(cli: Cli, db: str) -> None:
    ingest_ok(cli, GCP, "--db", db, "--table", "y")
    code, _, err = cli("ingest", GCP, "--db", db, "--table", "x; drop table y")
    assert code == 1
    assert "invalid table name 'x; drop table y'" in err
    assert count_rows(db, "y") == 2000


# -- JSON, Parquet and CSV.gz load the same as CSV ---------------------------------------------
def test_json_parquet_and_gzip_load_like_csv(cli: Cli, db: str, tmp_path: Path) -> None:
    source = sample_subset(AZURE_X, tmp_path / "report.csv", 0, 400)  # x_ columns, hard Tags
    table = read_cells(source)  # null where the CSV field is empty and unquoted
    gz = tmp_path / "report.csv.gz"
    gz.write_bytes(gzip.compress(source.read_bytes()))
    as_json = tmp_path / "report.json"
    as_json.write_text(json.dumps(table.to_pylist()))
    as_parquet = tmp_path / "report.parquet"
    pq.write_table(table, as_parquet)
    for name, path in (("csv", source), ("gz", gz), ("json", as_json), ("parquet", as_parquet)):
        ingest_ok(cli, path, "--db", db, "--table", f"focus_{name}", "--source-id", "same")
    reference = read_rows(db, "focus_csv", lineage=False)
    assert len(reference) == table.num_rows
    for name in ("gz", "json", "parquet"):
        assert read_rows(db, f"focus_{name}", lineage=False) == reference, name


# -- summary -----------------------------------------------------------------------------------
def test_summary_breaks_cost_down_by_month_service_and_sub_account(cli: Cli, db: str) -> None:
    ingest_ok(cli, AWS, "--db", db)
    code, out, err = cli("summary", "--db", db, "--table", "focus", "--top", "3")
    assert code == 0, err
    for title in ("Cost by month", "Cost by service", "Cost by sub-account"):
        assert title in out
    total = expected_totals(AWS, "BilledCost")["USD"][1]
    assert "2026-05" in out and f"{total:,.2f}" in out


# -- content seen before (issue 14 item 6) ------------------------------------------------------
def test_the_same_content_under_another_name_is_refused_in_every_sink(
        cli: Cli, db: str, tmp_path: Path) -> None:
    first = tmp_path / "aws.csv"
    first.write_bytes(AWS.read_bytes())
    ingest_ok(cli, first, "--db", db)
    again = tmp_path / "renamed" / "aws.csv.gz"
    again.parent.mkdir()
    again.write_bytes(gzip.compress(AWS.read_bytes()))
    code, _, err = cli("ingest", again, "--db", db)
    assert code == 1
    assert f"{again}: holds the same content as {first}" in err
    assert count_rows(db) == 2000
    ingest_ok(cli, again, "--db", db, "--allow-same-content")
    assert count_rows(db) == 4000
