"""Delta sink against real storage: a local folder and a moto S3 server on loopback.

Every sample file is loaded through the real reader; row counts and per-currency BilledCost
sums are checked against DuckDB's own ``read_csv`` of the same file; table versions prove that
an unchanged reload commits nothing and a failed load leaves no trace.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from fixtures.paths import EXAMPLES, TEST_DATA, sample_files
from focusflow.cli import main
from focusflow.errors import ConfigError
from focusflow.ingest import IngestOptions, ingest
from focusflow.sinks import LoadRequest, open_sink
from focusflow.sinks.delta import DeltaSink

pytestmark = pytest.mark.integration

AWS = EXAMPLES / "focus_1_2_cost_and_usage_aws.csv"
AZURE_X = TEST_DATA / "extensions" / "azure_focus_1_2_with_x_columns.csv"


@pytest.fixture(params=["local", "s3"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeltaSink]:
    if request.param == "local":
        url = f"delta+file://{tmp_path / 'lake'}"
    else:
        bucket = request.getfixturevalue("s3_bucket")
        url = f"delta+s3://{bucket}/lake"
    opened = open_sink(url)
    assert isinstance(opened, DeltaSink)
    yield opened
    opened.close()


def load(sink: DeltaSink, path: Path, source: str, table: str = "focus") -> Any:
    return ingest(str(path), sink, IngestOptions(table=table, source_id=source)).result


def csv_totals(path: Path) -> dict[str | None, tuple[int, Decimal | None]]:
    """DuckDB's own count and BilledCost sum per currency (NULL sum for files without costs)."""
    source = f"read_csv('{path}', header=true, all_varchar=true)"
    columns = duckdb.sql(f"SELECT * FROM {source} LIMIT 0").columns
    cost = "SUM(CAST(BilledCost AS DECIMAL(38, 18)))" if "BilledCost" in columns else "NULL"
    rows = duckdb.sql(f"SELECT BillingCurrency, COUNT(*), {cost} FROM {source} GROUP BY 1")
    return {
        currency: (count, None if total is None else Decimal(total))
        for currency, count, total in rows.fetchall()
    }


def variant(source: Path, dest: Path, select: str) -> Path:
    """A new CSV from ``source`` rewritten by ``select`` over ``src`` (all columns as text)."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW src AS SELECT * FROM read_csv('{source}', header=true, "
                "all_varchar=true)")
    con.execute(f"COPY ({select}) TO '{dest}' (HEADER, DELIMITER ',')")
    con.close()
    return dest


def two_month_file(tmp_path: Path, name: str, june_cost: str = "BilledCost") -> Path:
    """The AWS sample's first 1000 rows split over May (600 rows) and June 2026 (400)."""
    june = {"BillingPeriodStart": "'2026-06-01T00:00:00Z'", "BillingPeriodEnd":
            "'2026-07-01T00:00:00Z'", "BilledCost": june_cost}
    columns = duckdb.sql(f"SELECT * FROM read_csv('{AWS}', all_varchar=true) LIMIT 0").columns
    moved = ", ".join(
        f'CASE WHEN n > 600 THEN {june[c]} ELSE "{c}" END AS "{c}"' if c in june else f'"{c}"'
        for c in columns
    )
    return variant(AWS, tmp_path / name, f"SELECT {moved} FROM (SELECT *, row_number() OVER () "
                   "AS n FROM src) WHERE n <= 1000 ORDER BY n")


@pytest.mark.slow
def test_every_sample_loads_exactly(sink: DeltaSink) -> None:
    for index, path in enumerate(sample_files()):
        table = "commitments" if "contract_commitment" in path.name else "focus"
        result = load(sink, path, f"src-{index}", table)
        expected = csv_totals(path)
        assert result.rows_written == sum(count for count, _ in expected.values()), path.name
        got = sink.query(
            table, "SELECT BillingCurrency, COUNT(*) AS n FROM {table} "
            "WHERE _focusflow_source = ? GROUP BY 1", [f"src-{index}"],
        ).to_pylist()
        assert {r["BillingCurrency"]: r["n"] for r in got} == {
            c: n for c, (n, _) in expected.items()}, path.name
        if table == "focus":
            sums = sink.query(
                table, "SELECT BillingCurrency, SUM(BilledCost) AS s FROM {table} "
                "WHERE _focusflow_source = ? GROUP BY 1", [f"src-{index}"],
            ).to_pylist()
            assert {r["BillingCurrency"]: r["s"] for r in sums} == {
                c: s for c, (_, s) in expected.items()}, path.name
            assert {t.currency: t.billed_cost for t in result.totals} == {
                c: s for c, (_, s) in expected.items()}, path.name


def test_schema_is_explicit_typed_partitioned_and_without_deletion_vectors(
    sink: DeltaSink,
) -> None:
    load(sink, AWS, "aws")
    uri = sink.location.table_uri("focus")
    table = DeltaTable(uri, storage_options=sink.location.storage_options or None)
    arrow = pa.schema(table.schema().to_arrow())
    assert arrow.field("BilledCost").type == pa.decimal128(38, 18)
    assert arrow.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    assert all(f.nullable for f in arrow)
    # AvailabilityZone is empty in the whole AWS sample: still a string column, never void
    assert arrow.field("AvailabilityZone").type in (pa.string(), pa.large_string(),
                                                     pa.string_view())
    assert table.metadata().partition_columns == ["_focusflow_billing_month"]
    assert table.metadata().configuration["delta.enableDeletionVectors"] == "false"
    protocol = table.protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) == (1, 2)
    history = table.history(1)[0]
    assert history["focusflow.source"] == "aws"


def test_unchanged_reload_writes_no_version(sink: DeltaSink) -> None:
    first = load(sink, AWS, "aws")
    version = sink.version("focus")
    again = load(sink, AWS, "aws")
    assert first.rows_written == 2000 and not first.unchanged
    assert again.unchanged
    assert sink.version("focus") == version
    assert sink.query("focus", "SELECT COUNT(*) AS n FROM {table}").column("n")[0].as_py() == 2000


def test_restated_period_replaces_only_that_period(sink: DeltaSink, tmp_path: Path) -> None:
    original = two_month_file(tmp_path, "v1.csv")
    load(sink, original, "acct")
    load(sink, AZURE_X, "other")
    version = sink.version("focus")
    # June restated with every cost doubled; May is not in the file and must stay as it was
    restated = variant(
        two_month_file(tmp_path, "v2.csv", "CAST(CAST(BilledCost AS DECIMAL(38,18)) * 2 AS "
                       "VARCHAR)"),
        tmp_path / "june.csv", "SELECT * FROM src WHERE BillingPeriodStart LIKE '2026-06%'",
    )
    result = load(sink, restated, "acct")
    assert sink.last_commit == "files"  # whole files added and removed, streamed
    assert sink.version("focus") == version + 1  # one load, one table version
    assert result.rows_written == 400 and result.rows_replaced == 400
    assert result.periods == [datetime(2026, 6, 1, tzinfo=UTC)]
    rows = sink.query("focus", """
        SELECT _focusflow_source AS s, BillingPeriodStart AS p, COUNT(*) AS n,
               SUM(BilledCost) AS c FROM {table} GROUP BY ALL ORDER BY ALL""").to_pylist()
    may = sum_of(original, "BillingPeriodStart LIKE '2026-05%'")
    june = sum_of(original, "BillingPeriodStart LIKE '2026-06%'") * 2
    assert [(r["s"], r["p"].month, r["n"], r["c"]) for r in rows] == [
        ("acct", 5, 600, may), ("acct", 6, 400, june),
        ("other", 5, 1500, csv_totals(AZURE_X)["USD"][1]),
    ]


def sum_of(path: Path, where: str) -> Decimal:
    (value,), = duckdb.sql(f"SELECT SUM(CAST(BilledCost AS DECIMAL(38,18))) FROM read_csv("
                           f"'{path}', all_varchar=true) WHERE {where}").fetchall()
    return Decimal(value)


def test_failing_stream_commits_nothing(sink: DeltaSink) -> None:
    load(sink, AWS, "aws")
    version = sink.version("focus")
    good = sink.read_table("focus")
    schema = good.schema

    def batches() -> Iterator[pa.RecordBatch]:
        yield from good.slice(0, 10).to_batches()
        raise RuntimeError("connection lost mid-stream")

    with pytest.raises(RuntimeError, match="mid-stream"):
        sink.load(LoadRequest("focus", "aws", schema, batches(), fingerprint=lambda: "new"))
    assert sink.version("focus") == version
    assert sink.read_table("focus").num_rows == 2000


def test_new_x_columns_are_added_and_never_dropped(sink: DeltaSink, tmp_path: Path) -> None:
    load(sink, AWS, "aws")
    load(sink, AZURE_X, "azure")
    assert sink.last_commit == "rewrite"  # new columns: a schema-merging write
    without_x = variant(AZURE_X, tmp_path / "no_x.csv",
                        "SELECT COLUMNS(lambda c: NOT starts_with(c, 'x_')) FROM src LIMIT 100")
    load(sink, without_x, "azure")
    table = sink.read_table("focus")
    assert "x_ResourceGroupName" in table.column_names
    assert "_focusflow_source" not in table.column_names
    kept = sink.query("focus", "SELECT COUNT(x_ResourceGroupName) AS n, COUNT(*) AS total "
                      "FROM {table} WHERE _focusflow_source = 'azure'").to_pylist()
    assert kept == [{"n": 0, "total": 100}]  # the restated rows carry no x_ values
    assert table.num_rows == 2100


def test_concurrent_writer_conflict_is_retried(sink: DeltaSink) -> None:
    """Another writer commits the same source and period mid-load: the load reloads, retries."""
    other = DeltaSink(sink.location)
    load(sink, AWS, "aws")
    rows = sink.read_table("focus")

    def batches() -> Iterator[pa.RecordBatch]:
        yield from rows.slice(0, 5).to_batches()
        other.load(LoadRequest("focus", "aws", rows.schema, iter(rows.slice(5, 7).to_batches()),
                               fingerprint=lambda: "theirs"))

    result = sink.load(LoadRequest("focus", "aws", rows.schema, batches(),
                                   fingerprint=lambda: "ours"))
    assert sink.commit_attempts == 2 and sink.last_commit == "files"
    assert result.rows_written == 5
    assert sink.read_table("focus").num_rows == 5  # ours replaced theirs, nothing doubled


def test_bad_urls_name_the_accepted_forms() -> None:
    for url in ("delta://relative/path", "delta+s3:///prefix", "delta+file://host/x"):
        with pytest.raises(ConfigError, match="delta\\+s3://bucket/prefix"):
            open_sink(url)


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """``focusflow ARGS...`` in-process through the console entry point."""
    monkeypatch.setattr(sys, "argv", ["focusflow", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    code = exited.value.code
    return code if isinstance(code, int) else 1


def test_cli_ingest_summary_export_round_trip(
    sink: DeltaSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = sink.location.root
    db = f"delta+file://{root}" if sink.location.is_local else "delta+s3://" + root[5:]
    monkeypatch.setenv("COLUMNS", "200")
    assert run_cli(monkeypatch, "ingest", str(AWS), str(AZURE_X), "--db", db) == 0
    assert run_cli(monkeypatch, "summary", "--db", db) == 0
    assert "3,500" in capsys.readouterr().out  # rows in May 2026 over both files
    out = tmp_path / "out.csv"
    assert run_cli(monkeypatch, "export", str(out), "--db", db) == 0
    exported = csv_totals(out)
    assert exported == {"USD": (3500, csv_totals(AWS)["USD"][1] + csv_totals(AZURE_X)["USD"][1])}
    assert run_cli(monkeypatch, "ingest", str(AWS), "--db", "delta+s3:///no-bucket") == 1
    assert "delta+s3://bucket/prefix" in capsys.readouterr().err


def test_after_compaction_mixing_sources_a_restatement_rewrites_rows(
    sink: DeltaSink, tmp_path: Path,
) -> None:
    """A compacted file holds two sources: no file-level proof, so the row-level path runs."""
    load(sink, AWS, "aws")
    load(sink, EXAMPLES / "focus_1_2_cost_and_usage_gcp.csv", "gcp")
    table = DeltaTable(sink.location.table_uri("focus"),
                       storage_options=sink.location.storage_options or None)
    table.optimize.compact()
    assert len(table.file_uris()) == 1
    version = sink.version("focus")
    restated = variant(AWS, tmp_path / "aws_half.csv", "SELECT * FROM src LIMIT 1000")
    result = load(sink, restated, "aws")
    assert sink.last_commit == "rewrite"
    assert sink.version("focus") == version + 1
    assert (result.rows_written, result.rows_replaced) == (1000, 2000)
    counts = sink.query("focus", "SELECT _focusflow_source AS s, COUNT(*) AS n FROM {table} "
                        "GROUP BY 1 ORDER BY 1").to_pylist()
    assert counts == [{"s": "aws", "n": 1000}, {"s": "gcp", "n": 2000}]


def test_lost_registry_append_neither_fails_the_load_nor_forgets_it(
    sink: DeltaSink, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """The data commit carries the fingerprint: an unrecorded load is still known next time."""
    def refuse(*_: Any) -> None:
        raise OSError("registry store unavailable")

    monkeypatch.setattr(sink.registry, "record", refuse)
    first = load(sink, AWS, "aws")
    assert first.rows_written == 2000
    assert "could not record it" in caplog.text
    version = sink.version("focus")
    assert load(sink, AWS, "aws").unchanged
    assert sink.version("focus") == version
