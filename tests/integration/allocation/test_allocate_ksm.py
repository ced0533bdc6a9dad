"""``focusflow allocate`` end to end: the real ``ksm_prometheus`` fixture (two clusters, 12 hours
of synthetic kube-state-metrics + cAdvisor history) priced from a FOCUS billing file written
here, loaded into DuckDB. Totals are checked exactly against the billing rows."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fixtures.net import free_port
from fixtures.prometheus import PrometheusServer
from focusflow.allocation import (
    AllocationReport,
    ClusterMetrics,
    allocation_settings,
    prometheus_settings,
    read_billing_file,
    run_allocation,
)
from focusflow.cli import main
from focusflow.cli.app import EXIT_UNREADABLE
from focusflow.errors import InputError, SinkError
from focusflow.focus import DECIMAL, TIMESTAMP
from focusflow.k8s_export import PrometheusClient
from focusflow.sinks import LoadRequest, Sink, open_sink

pytestmark = pytest.mark.integration

START, END = "2025-10-31T18:00:00Z", "2025-11-01T06:00:00Z"
HEADER = ("BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,"
          "ChargePeriodEnd,ChargeCategory,BilledCost,EffectiveCost,BillingCurrency,ResourceId,"
          "ServiceName\n")
# Daily EffectiveCost per instance; i-...2 (prod-1/node-2) has no row: priced by the sheet.
DAILY = {("2025-10-31", "i-00000000000000000"): Decimal("9.60"),
         ("2025-10-31", "i-00000000000000001"): Decimal("7.20"),
         ("2025-11-01", "i-00000000000000000"): Decimal("9.60"),
         ("2025-11-01", "i-00000000000000001"): Decimal("4.80")}
NEXT_DAY = {"2025-10-31": "2025-11-01", "2025-11-01": "2025-11-02"}


def billing_file(path: Path) -> Path:
    lines = [HEADER]
    for (day, rid), cost in DAILY.items():
        month = day[:8] + "01"
        end_month = "2025-11-01" if month == "2025-10-01" else "2025-12-01"
        # BilledCost differs from EffectiveCost (a commitment covers part): EffectiveCost wins.
        lines.append(f"a1,{month}T00:00:00Z,{end_month}T00:00:00Z,{day}T00:00:00Z,"
                     f"{NEXT_DAY[day]}T00:00:00Z,Usage,{cost * 2},{cost},USD,"
                     f"arn:aws:ec2:us-east-1:123:instance/{rid.upper()},Amazon EC2\n")
    lines.append("a1,2025-11-01T00:00:00Z,2025-12-01T00:00:00Z,2025-11-01T00:00:00Z,"
                 "2025-11-02T00:00:00Z,Tax,5.00,5.00,USD,i-00000000000000000,Amazon EC2\n")
    path.write_text("".join(lines))
    return path



# Sheet price of an unmatched node: 8 vCPU x 0.031611 + 32 GiB x 0.004237 per hour.
SHEET_HOUR = Decimal("0.388472")


def expected_total() -> Decimal:
    """What the window must add up to: every Oct 31 row (the nodes ran 18:00-24:00 only), the
    Nov 1 rows times 6 / (6 + 1/12) (Prometheus's 5-minute lookback shows the nodes during
    06:00-06:04, outside the window), and 12 sheet-priced hours of prod-1/node-2."""
    oct31 = sum(c for (day, _), c in DAILY.items() if day == "2025-10-31")
    nov1 = sum(c for (day, _), c in DAILY.items() if day == "2025-11-01")
    return oct31 + nov1 * Decimal(72) / Decimal(73) + 12 * SHEET_HOUR


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[Sink]:
    sink = open_sink(f"duckdb:///{tmp_path / 'alloc.duckdb'}")
    yield sink
    sink.close()


def allocate(url: str, sink: Sink, billing: Path, **values: Any) -> AllocationReport:
    settings = allocation_settings(start=datetime(2025, 10, 31, 18, tzinfo=UTC),
                                   end=datetime(2025, 11, 1, 6, tzinfo=UTC), **values)
    endpoint = prometheus_settings(prometheus_url=url)
    client = PrometheusClient(endpoint)
    try:
        metrics = ClusterMetrics(client, resolution=60, cluster_label="cluster",
                                 default_cluster="default")
        index = read_billing_file(str(billing), settings.start_s, settings.end_s,
                                  settings.cost_column)
        return run_allocation(settings, metrics, index, sink, base_url=endpoint.base_url)
    finally:
        client.close()


def one(sink: Sink, sql: str, *params: object) -> Any:
    return sink.query("k8s_allocation", sql, params).to_pylist()[0]


def test_totals_match_the_billing_rows_and_unmatched_nodes_are_flagged(
        env: None, ksm_prometheus: PrometheusServer, duck: Sink, tmp_path: Path) -> None:
    report = allocate(ksm_prometheus.url, duck, billing_file(tmp_path / "bill.csv"))
    total = one(duck, 'SELECT SUM("EffectiveCost") AS t, SUM("BilledCost") AS b FROM {table}')
    assert total["t"] == total["b"] == report.total
    assert abs(total["t"] / expected_total() - 1) < Decimal("1e-9")
    assert report.currency == "USD"
    # Oct 31: i-...0 ran 12 node-hours that day (node-0 of both clusters): 9.60 / 12 an hour.
    hour = one(duck, 'SELECT SUM("EffectiveCost") AS c, MIN("x_PriceSource") AS s FROM {table} '
               'WHERE "x_Cluster" = ? AND "x_Node" = ? AND "ChargePeriodStart" = ?',
               "prod-1", "node-0", datetime(2025, 10, 31, 20, tzinfo=UTC))
    assert hour == {"c": Decimal("0.8"), "s": "billing"}
    sheet = sink_rows(duck, 'SELECT "ChargePeriodStart", SUM("EffectiveCost") AS c, '
                      'MIN("x_PriceSource") AS lo, MAX("x_PriceSource") AS hi, '
                      'MIN("ResourceId") AS rid FROM {table} WHERE "x_Node" = ? '
                      'AND "x_Cluster" = ? GROUP BY 1', "node-2", "prod-1")
    assert len(sheet) == 12
    assert {(r["c"], r["lo"], r["hi"], r["rid"]) for r in sheet} == {
        (SHEET_HOUR, "default", "default", "i-00000000000000002")}
    assert list(report.default_priced) == [("prod-1", "node-2")]
    assert report.default_priced[("prod-1", "node-2")][1] == 12
    # Every other node-hour is billing-priced; idle is never negative.
    flags = one(duck, 'SELECT COUNT(*) AS n FROM {table} WHERE "x_PriceSource" = ? '
                'AND "x_Node" <> ?', "default", "node-2")
    assert flags["n"] == 0
    assert one(duck, 'SELECT MIN("EffectiveCost") AS m FROM {table}')["m"] >= 0


def sink_rows(sink: Sink, sql: str, *params: object) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = sink.query("k8s_allocation", sql, params).to_pylist()
    return rows


def test_container_quantities_are_max_of_request_and_usage(
        env: None, ksm_prometheus: PrometheusServer, duck: Sink, tmp_path: Path) -> None:
    allocate(ksm_prometheus.url, duck, billing_file(tmp_path / "bill.csv"))

    def at(pod: str, hour: datetime) -> Any:
        return one(duck, 'SELECT "x_CpuCoreHours" AS cpu, "x_RamByteHours" AS ram, '
                   '"x_Controller" AS ctl, "x_ControllerKind" AS kind, "x_Namespace" AS ns '
                   'FROM {table} WHERE "x_Cluster" = ? AND "x_Pod" = ? AND "x_Container" = ? '
                   'AND "ChargePeriodStart" = ?', "prod-1", pod, "app", hour)

    h20 = datetime(2025, 10, 31, 20, tzinfo=UTC)
    shop0 = at("shop-0", h20)  # request 0.25 core > usage 0.1; request 256 MiB > working set
    assert (shop0["cpu"], shop0["ram"]) == (Decimal("0.25"), Decimal(268435456))
    assert (shop0["ns"], shop0["ctl"], shop0["kind"]) == ("shop", "shop-0", "Deployment")
    data4 = at("data-4", h20)  # usage 0.5 core > request 0.25
    assert abs(data4["cpu"] - Decimal("0.5")) < Decimal("1e-6")
    # ml-5 is born at 00:30: half its request (0.5 core, 768 MiB) for the hour 00:00-01:00
    late = at("ml-5", datetime(2025, 11, 1, 0, tzinfo=UTC))
    assert (late["cpu"], late["ram"]) == (Decimal("0.25"), Decimal(402653184))
    pending = one(duck, 'SELECT COUNT(*) AS n FROM {table} WHERE "x_Pod" = ?', "data-1")
    assert pending["n"] == 0  # Pending pods are not running: no allocation


def test_rerunning_the_window_replaces_and_a_failed_run_commits_nothing(
        env: None, ksm_prometheus: PrometheusServer, duck: Sink, tmp_path: Path) -> None:
    bill = billing_file(tmp_path / "bill.csv")
    first = allocate(ksm_prometheus.url, duck, bill, by="namespace")
    count = 'SELECT COUNT(*) AS n, SUM("EffectiveCost") AS t FROM {table}'
    before = one(duck, count)
    second = allocate(ksm_prometheus.url, duck, bill, by="namespace")
    assert second.load is not None and first.load is not None
    assert second.load.rows_replaced == first.load.rows_written == before["n"]
    assert one(duck, count) == before
    with pytest.raises(InputError, match=r"no billing rows for node\(s\) prod-1/node-2 "
                       r"\(provider_id aws:///us-east-1a/i-00000000000000002\)"):
        allocate(ksm_prometheus.url, duck, bill, require_billing=True)
    assert one(duck, count) == before


def test_billing_rows_from_an_ingested_table(
        *, env: None, ksm_prometheus: PrometheusServer, duck: Sink, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    billing_db = f"duckdb:///{tmp_path / 'billing.duckdb'}"
    load_billing_table(billing_db)
    out_db = f"duckdb:///{tmp_path / 'out.duckdb'}"
    code, out, err = run_main(monkeypatch, capsys, "--prometheus", ksm_prometheus.url,
                              "--start", START, "--end", END, "--billing-db", billing_db,
                              "--billing-table", "focus", "--db", out_db, "--by", "namespace")
    assert code == 0, err
    assert "__idle__" in out and "prod-1/node-2" in out and "x_PriceSource=default" in out
    sink = open_sink(out_db)
    try:
        total = sink.query("k8s_allocation", 'SELECT SUM("EffectiveCost") AS t FROM {table}'
                           ).to_pylist()[0]["t"]
    finally:
        sink.close()
    assert abs(total / expected_total() - 1) < Decimal("1e-9")


def load_billing_table(url: str) -> None:
    """The billing rows as ``focusflow ingest`` leaves them: typed FOCUS columns."""
    schema = pa.schema([("BillingPeriodStart", TIMESTAMP), ("ChargePeriodStart", TIMESTAMP),
                        ("ChargePeriodEnd", TIMESTAMP), ("ChargeCategory", pa.string()),
                        ("EffectiveCost", DECIMAL), ("BilledCost", DECIMAL),
                        ("BillingCurrency", pa.string()), ("ResourceId", pa.string())])
    rows = [{"BillingPeriodStart": _day(day[:8] + "01"), "ChargePeriodStart": _day(day),
             "ChargePeriodEnd": _day(NEXT_DAY[day]), "ChargeCategory": "Usage",
             "EffectiveCost": cost, "BilledCost": cost, "BillingCurrency": "USD",
             "ResourceId": rid} for (day, rid), cost in DAILY.items()]
    sink = open_sink(url)
    try:
        sink.load(LoadRequest(table="focus", source_id="bill", schema=schema,
                              batches=[pa.RecordBatch.from_pylist(rows, schema=schema)]))
    finally:
        sink.close()


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             *args: str) -> tuple[int, str, str]:
    """``focusflow allocate ARGS`` through the console entry point, in this process."""
    monkeypatch.setattr(sys, "argv", ["focusflow", "allocate", *args])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exited:
        main()
    out = capsys.readouterr()
    return int(exited.value.code or 0), out.out, out.err


@pytest.mark.parametrize(("args", "message"), [
    (("--start", "2025-11-01T06:00:00Z", "--end", "2025-11-01T00:00:00Z"),
     "must be after start"),
    (("--start", "yesterday", "--end", END), "--start 'yesterday': expected an ISO 8601"),
    (("--start", "2024-01-01T00:00:00Z", "--end", "2024-01-01T02:00:00Z", "--no-billing"),
     "no kube_node_info series between 2024-01-01T00:00:00Z and 2024-01-01T02:00:00Z; "
     "expected kube-state-metrics history for the window"),
    (("--start", "2024-01-01T00:00:00Z", "--end", "2024-01-01T02:00:00Z"),
     "no Usage rows with a ResourceId whose charge period overlaps 2024-01-01T00:00:00Z .. "
     "2024-01-01T02:00:00Z"),
    (("--start", START, "--end", END, "--require-billing"),
     "no billing rows for node(s) prod-1/node-2"),
    (("--start", START, "--end", END, "--billing-db", "duckdb:///x.duckdb"),
     "--billing and --billing-db both give billing rows; pass one"),
    (("--start", START, "--end", END, "--table", "bad-name"), "invalid table name 'bad-name'"),
    (("--start", START, "--end", END, "--table", "_focusflow_loads"),
     "table '_focusflow_loads' is focusflow's record of loads"),
    (("--start", START, "--end", END, "--require-billing", "--no-billing"),
     "--require-billing needs billing rows to require: pass --billing FILE or --billing-db URL"),
], ids=["window-reversed", "window-not-iso", "no-data", "no-billing-rows", "require-billing",
        "two-billing-sources", "bad-table", "reserved-table", "require-billing-without-billing"])
def test_cli_errors_are_one_clear_line(
        *, env: None, ksm_prometheus: PrometheusServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        args: tuple[str, ...], message: str) -> None:
    db = tmp_path / "alloc.duckdb"
    billing = () if "--no-billing" in args else (
        "--billing", str(billing_file(tmp_path / "bill.csv")))
    code, _, err = run_main(monkeypatch, capsys, "--prometheus", ksm_prometheus.url, *billing,
                            "--db", f"duckdb:///{db}", *(a for a in args if a != "--no-billing"))
    assert code == 1
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    if db.exists():  # nothing of a failed run is committed
        sink = open_sink(f"duckdb:///{db}")
        try:
            with pytest.raises(SinkError, match="does not exist"):
                sink.read_table("k8s_allocation")
        finally:
            sink.close()


def test_cli_prometheus_down(env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_main(monkeypatch, capsys, "--prometheus",
                            f"http://127.0.0.1:{free_port()}", "--start", START, "--end", END,
                            "--db", f"duckdb:///{tmp_path / 'a.duckdb'}")
    assert code == 1
    assert "cannot reach Prometheus at" in err


@pytest.mark.slow
def test_postgres_billing_table_and_postgres_sink(
        *, env: None, ksm_prometheus: PrometheusServer, postgres_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Billing rows read from PostgreSQL (bound parameters), allocation loaded into it: same
    totals as from the file, and a re-run replaces rather than duplicates."""
    load_billing_table(postgres_url)
    args = ("--prometheus", ksm_prometheus.url, "--start", START, "--end", END,
            "--billing-db", postgres_url, "--db", postgres_url, "--by", "pod")
    for _ in range(2):
        code, _, err = run_main(monkeypatch, capsys, *args)
        assert code == 0, err
    sink = open_sink(postgres_url)
    try:
        got = sink.query("k8s_allocation", 'SELECT COUNT(*) AS n, SUM("EffectiveCost") AS t, '
                         'COUNT(DISTINCT "_focusflow_load_id") AS loads FROM {table}'
                         ).to_pylist()[0]
    finally:
        sink.close()
    assert got["loads"] == 1
    assert abs(Decimal(got["t"]) / expected_total() - 1) < Decimal("1e-9")


def test_cli_prometheus_url_without_a_scheme_is_refused_before_any_query(
        env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # It used to be retried five times (12 s): httpx refuses it as a transport error.
    db = tmp_path / "a.duckdb"
    code, _, err = run_main(monkeypatch, capsys, "--prometheus", f"127.0.0.1:{free_port()}",
                            "--start", START, "--end", END, "--db", f"duckdb:///{db}")
    assert code == 1
    assert ("invalid Prometheus endpoint: --prometheus: is not an http:// or https:// URL"
            in " ".join(err.split()))
    assert "retrying" not in err
    assert not db.exists()


def test_cli_missing_billing_file_is_unreadable_input_as_ingest_says(
        env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # It exited 1 where ``focusflow ingest`` of the same path exits 2 (new-user trial).
    missing = tmp_path / "no-such-bill.csv"
    code, _, err = run_main(monkeypatch, capsys, "--prometheus", f"http://127.0.0.1:{free_port()}",
                            "--billing", str(missing), "--start", START, "--end", END,
                            "--db", f"duckdb:///{tmp_path / 'a.duckdb'}")
    assert code == EXIT_UNREADABLE == 2
    assert f"unreadable input: {missing}: no such file" in " ".join(err.split())
    assert "cannot reach Prometheus" not in err  # the billing file is read before any query


def test_cli_refuses_a_window_overlapping_one_loaded_with_other_bounds(
        *, env: None, ksm_prometheus: PrometheusServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Both loads would keep the hours they share: a 12 h window then its first 6 hours
    # counted those 6 hours twice, silently (new-user trial).
    db = f"duckdb:///{tmp_path / 'a.duckdb'}"
    bill = str(billing_file(tmp_path / "bill.csv"))
    half = "2025-11-01T00:00:00Z"

    def run(*args: str) -> tuple[int, str]:
        code, _, err = run_main(monkeypatch, capsys, "--prometheus", ksm_prometheus.url,
                                "--billing", bill, "--db", db, "--by", "namespace", *args)
        return code, " ".join(err.split())

    def loads() -> list[tuple[str, int]]:
        sink = open_sink(db)
        try:
            return [(row["s"], row["n"]) for row in sink.query(
                "k8s_allocation", 'SELECT "_focusflow_source" AS s, COUNT(*) AS n FROM {table} '
                "GROUP BY ALL ORDER BY s").to_pylist()]
        finally:
            sink.close()

    assert run("--start", START, "--end", END) == (0, "")
    before = loads()
    code, err = run("--start", START, "--end", half)
    assert code == 1
    assert (f"window 2025-10-31T18:00:00Z/{half} overlaps 2025-10-31T18:00:00Z/"
            f"2025-11-01T06:00:00Z, already loaded into k8s_allocation from "
            f"{ksm_prometheus.url}: the hours they share would be counted twice") in err
    assert loads() == before  # nothing loaded
    assert run("--start", START, "--end", END)[0] == 0  # the same window replaces its rows
    assert loads() == before
    assert run("--start", half, "--end", END, "--allow-overlap")[0] == 0
    after = loads()
    assert len(after) == 2 and before[0] in after
    assert run("--start", half, "--end", END) == (0, "")  # loaded already: it replaces itself
    assert loads() == after
    assert run("--start", half, "--end", END, "--source-id", "own-id")[0] == 0  # not checked


def test_cli_reports_the_hours_of_the_window_without_any_node(
        *, env: None, ksm_prometheus: PrometheusServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # A window reaching past the history loaded its hours with data and said nothing of the
    # others (new-user trial): they are now counted in the summary.
    code, out, err = run_main(
        monkeypatch, capsys, "--prometheus", ksm_prometheus.url, "--start", START,
        "--end", "2025-11-01T09:00:00Z", "--billing", str(billing_file(tmp_path / "b.csv")),
        "--db", f"duckdb:///{tmp_path / 'a.duckdb'}", "--by", "namespace")
    assert code == 0, err
    # The history ends at 06:00; Prometheus's 5-minute lookback still shows the nodes at the
    # start of the hour from 06:00, so two hours are empty.
    assert ("2 hour(s) of the window had no node to allocate (no kube_node_info series with a "
            "capacity): 2025-11-01T07:00:00Z … 2025-11-01T08:00:00Z") in " ".join(out.split())
    code, out, err = run_main(
        monkeypatch, capsys, "--prometheus", ksm_prometheus.url, "--start", START, "--end", END,
        "--billing", str(billing_file(tmp_path / "b.csv")),
        "--db", f"duckdb:///{tmp_path / 'b.duckdb'}", "--by", "namespace")
    assert code == 0, err
    assert "had no node to allocate" not in out
