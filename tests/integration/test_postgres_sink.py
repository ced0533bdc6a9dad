"""PostgresSink against a real PostgreSQL 15 (fixture ``postgres_url``): types, COPY, replace,
unchanged reloads, identifier limits, error wrapping without passwords, query placeholders."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest

from fixtures.postgres import PostgresServer
from focusflow.errors import ConfigError, InputError, SinkError, TransientSinkError
from focusflow.focus.schema import DECIMAL, JSON_METADATA, TIMESTAMP
from focusflow.sinks import LoadRequest, open_sink
from focusflow.sinks.postgres import PostgresSink

pytestmark = pytest.mark.integration

SCHEMA = pa.schema([
    pa.field("BillingPeriodStart", TIMESTAMP),
    pa.field("BillingCurrency", pa.string()),
    pa.field("BilledCost", DECIMAL),
    pa.field("EffectiveCost", DECIMAL),
    pa.field("Tags", pa.string(), metadata=JSON_METADATA),
    pa.field("x_Note", pa.string()),
])
JAN = datetime(2024, 1, 1, tzinfo=UTC)
FEB = datetime(2024, 2, 1, tzinfo=UTC)


def batch(period: datetime, costs: list[str], notes: list[str | None] | None = None,
          tags: str | None = '{"team": "a,\\"b\\""}') -> pa.RecordBatch:
    n = len(costs)
    return pa.record_batch([
        pa.array([period] * n, TIMESTAMP),
        pa.array(["USD"] * n),
        pa.array([Decimal(c) for c in costs], DECIMAL),
        pa.array([Decimal(c) for c in costs], DECIMAL),
        pa.array([tags] * n),
        pa.array(notes if notes is not None else ["note"] * n),
    ], schema=SCHEMA)


def request(batches: list[pa.RecordBatch], source: str = "s1", fingerprint: str | None = None,
            table: str = "focus", schema: pa.Schema = SCHEMA) -> LoadRequest:
    return LoadRequest(table=table, source_id=source, schema=schema, batches=batches,
                       fingerprint=(lambda: fingerprint) if fingerprint else None)


@pytest.fixture
def sink(postgres_url: str) -> Iterator[PostgresSink]:
    opened = open_sink(postgres_url)
    assert isinstance(opened, PostgresSink)
    yield opened
    opened.close()


def column_types(url: str, table: str = "focus") -> dict[str, str]:
    with psycopg.connect(url) as con:
        rows = con.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", [table]
        ).fetchall()
    return dict(rows)


def test_creates_typed_table_and_reads_back_exact_values(sink: PostgresSink,
                                                         postgres_url: str) -> None:
    result = sink.load(request([batch(
        JAN, ["1.123456789012345678", "2", "-0.000000000000000001",
              "12345678901234567890.5"], ["", None, "a", "b"])]))
    assert result.rows_written == 4
    assert result.totals[0].billed_cost == Decimal("12345678901234567893.623456789012345677")
    assert column_types(postgres_url) == {
        "BillingPeriodStart": "timestamp with time zone", "BillingCurrency": "text",
        "BilledCost": "numeric(38,18)", "EffectiveCost": "numeric(38,18)", "Tags": "jsonb",
        "x_Note": "text", "_focusflow_source": "text", "_focusflow_load_id": "text",
    }
    table = sink.read_table("focus")
    assert table.column_names == SCHEMA.names
    assert table.schema.field("BilledCost").type == DECIMAL
    assert table.column("BilledCost").to_pylist() == [
        Decimal("1.123456789012345678"), Decimal(2), Decimal("-0.000000000000000001"),
        Decimal("12345678901234567890.5")]
    assert table.column("BillingPeriodStart").to_pylist() == [JAN] * 4
    # An empty string stays an empty string, a null stays a null (CSV quoting both ways).
    assert table.column("x_Note").to_pylist() == ["", None, "a", "b"]
    assert table.column("Tags").to_pylist()[0] == '{"team": "a,\\"b\\""}'


def test_lineage_columns_are_indexed(sink: PostgresSink, postgres_url: str) -> None:
    sink.load(request([batch(JAN, ["1"])], table="finops.focus"))
    with psycopg.connect(postgres_url) as con:
        rows = con.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'finops' "
                           "AND tablename = 'focus' ORDER BY indexname").fetchall()
    assert [row[0].split(" USING btree ")[1] for row in rows] == [
        '(_focusflow_load_id)', '(_focusflow_source, "BillingPeriodStart")']


def test_replaces_only_the_source_and_periods_it_reloads(sink: PostgresSink) -> None:
    sink.load(request([batch(JAN, ["1"]), batch(FEB, ["2"])], source="s1"))
    sink.load(request([batch(JAN, ["10"])], source="s2"))
    result = sink.load(request([batch(JAN, ["5", "6"])], source="s1"))
    assert result.rows_replaced == 1
    rows = sink.query("focus", 'SELECT "_focusflow_source", "BillingPeriodStart", '
                      'SUM("BilledCost") AS cost FROM {table} GROUP BY 1, 2 ORDER BY 1, 2')
    assert rows.to_pylist() == [
        {"_focusflow_source": "s1", "BillingPeriodStart": JAN, "cost": Decimal(11)},
        {"_focusflow_source": "s1", "BillingPeriodStart": FEB, "cost": Decimal(2)},
        {"_focusflow_source": "s2", "BillingPeriodStart": JAN, "cost": Decimal(10)},
    ]


def test_unchanged_fingerprint_rolls_back(sink: PostgresSink) -> None:
    sink.load(request([batch(JAN, ["1"])], fingerprint="abc"))
    again = sink.load(request([batch(JAN, ["1"])], fingerprint="abc"))
    assert again.unchanged
    assert sink.query("focus", "SELECT COUNT(*) AS n FROM {table}").to_pylist() == [{"n": 1}]
    loads = sink.query("focus", "SELECT COUNT(*) AS n FROM _focusflow_loads WHERE "
                       "table_name = ?", ["focus"])
    assert loads.to_pylist() == [{"n": 1}]


def test_failed_load_commits_nothing(sink: PostgresSink) -> None:
    sink.load(request([batch(JAN, ["1"])]))

    def failing() -> Iterator[pa.RecordBatch]:
        yield batch(JAN, ["7"])
        raise InputError("bad row", file="f.csv", row=2, column="BilledCost")

    with pytest.raises(InputError, match=r"f\.csv, row 2"):
        sink.load(LoadRequest("focus", "s1", SCHEMA, failing()))
    assert sink.query("focus", 'SELECT SUM("BilledCost") AS c FROM {table}').to_pylist() == [
        {"c": Decimal(1)}]


def test_new_columns_are_added_never_dropped(sink: PostgresSink, postgres_url: str) -> None:
    sink.load(request([batch(JAN, ["1"])]))
    wider = SCHEMA.append(pa.field("x_New", pa.string()))
    extra = batch(FEB, ["2"])
    extra = extra.append_column("x_New", pa.array(["n"]))
    sink.load(request([extra], schema=wider))
    narrower = pa.schema([SCHEMA.field("BillingPeriodStart"), SCHEMA.field("BilledCost")])
    sink.load(LoadRequest("focus", "s3", narrower, [pa.record_batch(
        [pa.array([JAN], TIMESTAMP), pa.array([Decimal(3)], DECIMAL)], schema=narrower)]))
    assert "x_New" in column_types(postgres_url)
    assert "x_Note" in column_types(postgres_url)
    assert sink.read_table("focus").num_rows == 3


def test_schema_qualified_table(sink: PostgresSink) -> None:
    sink.load(request([batch(JAN, ["1"])], table="finops.focus"))
    assert sink.read_table("finops.focus").num_rows == 1


def test_identifier_over_63_bytes_is_refused(sink: PostgresSink) -> None:
    long_name = "x_" + "é" * 31  # 64 bytes in UTF-8, 33 characters
    schema = pa.schema([pa.field(long_name, pa.string())])
    with pytest.raises(SinkError, match="at most 63 bytes"):
        sink.load(LoadRequest("focus", "s", schema, [pa.record_batch([pa.array(["v"])],
                                                                     schema=schema)]))


@pytest.mark.parametrize("name", ["x; drop table y", "a.b.c", "1abc", 'x"y'])
def test_bad_table_names_are_refused(sink: PostgresSink, name: str) -> None:
    with pytest.raises(ConfigError, match="invalid table name"):
        sink.load(request([batch(JAN, ["1"])], table=name))


def test_query_placeholders_and_percent(sink: PostgresSink) -> None:
    sink.load(request([batch(JAN, ["1"]), batch(FEB, ["2"])]))
    table = sink.query(
        "focus",
        "SELECT to_char(\"BillingPeriodStart\", 'YYYY-MM') || '%?' AS m, SUM(\"BilledCost\"), "
        "SUM(\"EffectiveCost\") FROM {table} WHERE \"BilledCost\" > ? GROUP BY 1",
        [Decimal("1.5")],
    )
    assert table.column_names == ["m", "sum", "sum_2"]
    assert table.to_pylist() == [{"m": "2024-02%?", "sum": Decimal(2), "sum_2": Decimal(2)}]


def test_missing_table_is_a_clear_error(sink: PostgresSink) -> None:
    with pytest.raises(SinkError, match="table 'nothere' does not exist"):
        sink.read_table("nothere")
    with pytest.raises(SinkError, match="table 'nothere' does not exist"):
        sink.query("nothere", "SELECT * FROM {table}")


def test_wrong_password_is_transient_and_not_echoed(postgres_server: PostgresServer) -> None:
    wrong = "Wr0ng-Secret-Value"
    with pytest.raises(TransientSinkError) as caught:
        PostgresSink(postgres_server.url(password=wrong))
    message = str(caught.value)
    assert "password authentication failed" in message
    assert wrong not in message
    assert postgres_server.password not in message
    assert "\n" not in message


def test_unreachable_server_is_transient_without_password(
        postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from fixtures.net import free_port  # noqa: PLC0415

    monkeypatch.setenv("PGPASSWORD", postgres_server.password)
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(TransientSinkError, match="cannot connect") as caught:
        PostgresSink(url)
    assert postgres_server.password not in str(caught.value)


def test_password_from_pgpassword(postgres_server: PostgresServer,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", postgres_server.password)
    sink = PostgresSink(f"postgresql://postgres@127.0.0.1:{postgres_server.port}/postgres")
    try:
        assert postgres_server.password not in repr(sink.config)
        assert sink.display == f"postgresql://postgres@127.0.0.1:{postgres_server.port}/postgres"
        assert sink.query("focus", "SELECT 1 AS one").to_pylist() == [{"one": 1}]
    finally:
        sink.close()


def test_server_error_mid_load_is_a_sink_error_without_password(
        sink: PostgresSink, postgres_server: PostgresServer) -> None:
    schema = pa.schema([pa.field("x_Text", pa.string())])
    # PostgreSQL text cannot hold NUL: the server refuses the COPY.
    bad = pa.record_batch([pa.array(["a\x00b"])], schema=schema)
    with pytest.raises(SinkError) as caught:
        sink.load(LoadRequest("t", "s", schema, [bad]))
    assert not isinstance(caught.value, TransientSinkError)
    assert postgres_server.password not in str(caught.value)
    assert "loading t failed" in str(caught.value)


def _waiting_on_advisory_lock(url: str) -> int:
    with psycopg.connect(url) as con:
        row = con.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'").fetchone()
    return int(row[0]) if row else 0


def test_loads_of_one_source_are_serialised_other_sources_are_not(postgres_url: str) -> None:
    sinks = [PostgresSink(postgres_url) for _ in range(3)]
    try:
        sinks[0].load(request([batch(JAN, ["1"])]))
        gate, midway = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def held_open() -> Iterator[pa.RecordBatch]:
            yield batch(JAN, ["2"])
            midway.set()  # the first batch is in the COPY, the transaction holds the lock
            assert gate.wait(60)
            yield batch(JAN, ["3"])

        def run(sink: PostgresSink, req: LoadRequest) -> None:
            try:
                sink.load(req)
            except BaseException as exc:
                errors.append(exc)

        first = threading.Thread(target=run, args=(sinks[0], LoadRequest(
            "focus", "s1", SCHEMA, held_open())))
        first.start()
        assert midway.wait(60)
        second = threading.Thread(target=run, args=(sinks[1], request([batch(JAN, ["10"])])))
        second.start()
        for _ in range(3000):  # poll the server's own view until the second load waits
            if _waiting_on_advisory_lock(postgres_url):
                break
            time.sleep(0.01)
        assert _waiting_on_advisory_lock(postgres_url) == 1
        # Another source of the same table is not held up by the open load.
        sinks[2].load(request([batch(JAN, ["100"])], source="s2"))
        gate.set()
        first.join(60)
        second.join(60)
        assert not errors
        rows = sinks[2].query("focus", 'SELECT "_focusflow_source" AS s, SUM("BilledCost") AS c '
                              "FROM {table} GROUP BY 1 ORDER BY 1").to_pylist()
        # The second s1 load ran after the first committed and replaced its January rows.
        assert rows == [{"s": "s1", "c": Decimal(10)}, {"s": "s2", "c": Decimal(100)}]
    finally:
        for sink in sinks:
            sink.close()


def test_instants_survive_whatever_time_zone_the_url_asks_for(postgres_url: str) -> None:
    url = postgres_url + "?options=-c%20TimeZone%3DAsia/Tokyo"
    instant = datetime(2026, 5, 31, 23, 59, 59, 123456, tzinfo=UTC)
    schema = pa.schema([pa.field("ChargePeriodStart", TIMESTAMP)])
    sink = PostgresSink(url)
    try:
        sink.load(LoadRequest("t", "s", schema, [pa.record_batch(
            [pa.array([instant], TIMESTAMP)], schema=schema)]))
        assert sink.read_table("t").column(0).to_pylist() == [instant]
    finally:
        sink.close()
    with psycopg.connect(postgres_url) as con:
        con.execute("SET TimeZone = 'America/New_York'")
        row = con.execute('SELECT "ChargePeriodStart" FROM t').fetchone()
    assert row is not None and row[0] == instant


def test_connection_lost_mid_load_is_transient_and_commits_nothing(
        sink: PostgresSink, postgres_url: str, postgres_server: PostgresServer) -> None:
    sink.load(request([batch(JAN, ["1"])]))
    backend = sink._con.info.backend_pid

    def dying() -> Iterator[pa.RecordBatch]:
        yield batch(JAN, ["2"])
        # The server ends this session mid-COPY (as a restart or failover would).
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 30000)", [backend])  # waits for exit
        yield batch(JAN, ["3"])

    with pytest.raises(TransientSinkError, match="loading focus failed") as caught:
        sink.load(LoadRequest("focus", "s1", SCHEMA, dying()))
    assert postgres_server.password not in str(caught.value)
    fresh = PostgresSink(postgres_url)
    try:
        assert fresh.query("focus", 'SELECT SUM("BilledCost") AS c FROM {table}').to_pylist() == [
            {"c": Decimal(1)}]
    finally:
        fresh.close()


def test_empty_load_creates_a_typed_empty_table(sink: PostgresSink) -> None:
    result = sink.load(request([]))
    assert result.rows_written == 0
    table = sink.read_table("focus")
    assert table.num_rows == 0
    assert table.schema.field("BilledCost").type == DECIMAL
