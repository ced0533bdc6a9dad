"""The report's numbers equal plain SQL over the same table, to the cent, per currency.

Real data: the FOCUS 1.2 samples of the shared data set (AWS, Azure, GCP) plus the AWS sample
billed in EUR, loaded by ``focusflow ingest`` into DuckDB, a real PostgreSQL and a Delta table; the
allocation table is made by the allocation layer's own ``allocate_columns`` and ``chunk_rows``. The
expected values come from hand-written SQL run on a separate connection, not from
``focusflow.reports``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from fixtures.paths import TEST_DATA
from fixtures.report_tables import load_allocation_table, load_cost_tables
from focusflow.cli import app
from focusflow.errors import ConfigError
from focusflow.ingest import IngestOptions, ingest
from focusflow.reports import CostReport, build_report, choose_period, explicit_period, render
from focusflow.reports.sql import OTHER
from focusflow.sinks import open_sink

START, END = datetime(2026, 5, 15, tzinfo=UTC), datetime(2026, 5, 29, tzinfo=UTC)
PREVIOUS = datetime(2026, 5, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 6, tzinfo=UTC)


def cents(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"), ROUND_HALF_UP)


class Plain:
    """Hand-written SQL on its own connection (psycopg ``%s`` placeholders)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        if self.url.startswith("delta"):  # the Delta tables as deltalake reads them
            root = Path(self.url.split("://", 1)[1])
            with duckdb.connect() as con:
                con.execute("SET TimeZone = 'UTC'")
                for table in ("focus", "k8s_allocation"):
                    if (root / table).exists():
                        arrow = DeltaTable(str(root / table)).to_pyarrow_table()  # noqa: F841
                        con.execute(f"CREATE TABLE {table} AS SELECT * FROM arrow")
                return con.execute(statement.replace("%s", "?"), list(params)).fetchall()
        if self.url.startswith("duckdb"):
            with duckdb.connect(self.url.split(":///", 1)[1], read_only=True) as con:
                con.execute("SET TimeZone = 'UTC'")
                return con.execute(statement.replace("%s", "?"), list(params)).fetchall()
        with psycopg.connect(self.url, options="-c TimeZone=UTC") as con:
            return con.execute(statement, list(params)).fetchall()  # type: ignore[arg-type]


@pytest.fixture(params=["duckdb", "postgres", "delta"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'report.duckdb'}"
    elif request.param == "delta":
        url = f"delta+file://{tmp_path / 'lake'}"
    else:
        url = request.getfixturevalue("postgres_url")
    load_cost_tables(url, tmp_path)
    load_allocation_table(url)
    yield url


def make_report(url: str) -> CostReport:
    sink = open_sink(url)
    try:
        return build_report(sink, "focus", explicit_period(START, END),
                            allocation_table="k8s_allocation", top=5, movers=5, now=NOW)
    finally:
        sink.close()


def test_totals_per_currency_equal_sql_to_the_cent(database: str) -> None:
    report = make_report(database)
    plain = Plain(database)
    expected = {}
    for currency, period, billed, effective, n in plain(
            'SELECT "BillingCurrency", "ChargePeriodStart" >= %s, SUM("BilledCost"), '
            'SUM("EffectiveCost"), COUNT(*) FROM focus WHERE "ChargePeriodStart" >= %s '
            'AND "ChargePeriodStart" < %s GROUP BY 1, 2', START, PREVIOUS, END):
        expected[(currency, period)] = (cents(billed), cents(effective), n)
    assert {t.currency for t in report.totals} == {"USD", "EUR"}  # never one mixed total
    for t in report.totals:
        assert (cents(t.billed), cents(t.effective), t.rows) == expected[(t.currency, True)]
        assert (cents(t.previous_billed), cents(t.previous_effective), t.previous_rows) == \
            expected[(t.currency, False)]
    page = render(report)
    data = json.loads(re.search(r'id="focusflow-data">(.*?)</script>', page, re.S)[1])  # type: ignore[index]
    for t in data["totals"]:
        billed, effective, n = expected[(t["currency"], True)]
        assert (Decimal(t["billed"]), Decimal(t["effective"]), t["rows"]) == (billed, effective, n)
        assert f"{effective:,.2f}" in page


def test_daily_cells_by_service_equal_sql(database: str) -> None:
    report = make_report(database)
    plain = Plain(database)
    cells = {(day, currency, service): cents(cost) for day, currency, service, cost in plain(
        'SELECT CAST(date_trunc(\'day\', "ChargePeriodStart") AS DATE), "BillingCurrency", '
        '"ServiceName", SUM("EffectiveCost") FROM focus WHERE "ChargePeriodStart" >= %s '
        'AND "ChargePeriodStart" < %s GROUP BY 1, 2, 3', PREVIOUS, END)}
    day_totals = {(day, currency): Decimal(str(cost)) for day, currency, cost in plain(
        'SELECT CAST(date_trunc(\'day\', "ChargePeriodStart") AS DATE), "BillingCurrency", '
        'SUM("EffectiveCost") FROM focus WHERE "ChargePeriodStart" >= %s '
        'AND "ChargePeriodStart" < %s GROUP BY 1, 2', PREVIOUS, END)}
    checked = 0
    for series in report.daily["service"]:
        assert len(series.series) == 6 and list(series.series)[-1] == OTHER  # top 5 + other
        for i, day in enumerate(series.days):
            for name, values in series.series.items():
                if name != OTHER:
                    assert cents(values[i]) == cells.get((day, series.currency, name),
                                                         Decimal("0.00"))
                    checked += 1
            total = sum((v[i] for v in series.series.values()), Decimal(0))
            assert cents(total) == cents(day_totals[(day, series.currency)])
    assert checked > 200
    assert {s.currency for s in report.daily["service"]} == {"USD", "EUR"}
    assert set(report.daily) == {"service", "sub-account", "region", "provider",
                                 "charge category"}


def test_movers_and_commitments_equal_sql(database: str) -> None:
    report = make_report(database)
    plain = Plain(database)
    by_service = {(currency, service): (cents(cur), cents(prev)) for currency, service, cur, prev
                  in plain('SELECT "BillingCurrency", "ServiceName", '
                           'SUM(CASE WHEN "ChargePeriodStart" >= %s THEN "EffectiveCost" END), '
                           'SUM(CASE WHEN "ChargePeriodStart" < %s THEN "EffectiveCost" END) '
                           'FROM focus WHERE "ChargePeriodStart" >= %s AND '
                           '"ChargePeriodStart" < %s GROUP BY 1, 2', START, START, PREVIOUS, END)}
    movers = report.movers["service"]
    assert movers
    for m in movers:
        assert (cents(m.current), cents(m.previous)) == by_service[(m.currency, m.key)]
    usd = [m for m in movers if m.currency == "USD"]
    changes = sorted((cur - prev for (c, _), (cur, prev) in by_service.items() if c == "USD"))
    assert cents(usd[0].change) == changes[-1] and cents(usd[-1].change) == changes[0]
    assert report.commitments is not None and report.commitments
    used = {(c, i): (cents(u), cents(n)) for c, i, u, n in plain(
        'SELECT "BillingCurrency", "CommitmentDiscountId", '
        'SUM(CASE WHEN "CommitmentDiscountStatus" = \'Used\' THEN "EffectiveCost" ELSE 0 END), '
        'SUM(CASE WHEN "CommitmentDiscountStatus" = \'Unused\' THEN "EffectiveCost" ELSE 0 END) '
        'FROM focus WHERE "ChargePeriodStart" >= %s AND "ChargePeriodStart" < %s AND '
        '"CommitmentDiscountStatus" IN (\'Used\', \'Unused\') GROUP BY 1, 2', START, END)}
    assert {(c.currency, c.id) for c in report.commitments} == set(used)
    for c in report.commitments:
        assert (cents(c.used), cents(c.unused)) == used[(c.currency, c.id)]
    page = render(report)
    for currency, total_used, total_unused in plain(
            'SELECT "BillingCurrency", SUM(CASE WHEN "CommitmentDiscountStatus" = \'Used\' '
            'THEN "EffectiveCost" ELSE 0 END), SUM(CASE WHEN "CommitmentDiscountStatus" = '
            '\'Unused\' THEN "EffectiveCost" ELSE 0 END) FROM focus WHERE "ChargePeriodStart" '
            '>= %s AND "ChargePeriodStart" < %s AND "CommitmentDiscountId" IS NOT NULL '
            'GROUP BY 1', START, END):
        count = sum(c.currency == currency for c in report.commitments)
        row = f"<td>{currency}</td><td>all {count:,} "
        assert f"{row}commitments</td><td>{cents(total_used):,.2f}</td><td>" \
            f"{cents(total_unused):,.2f}</td>" in page


def test_kubernetes_section_equals_sql(database: str) -> None:
    report = make_report(database)
    plain = Plain(database)
    k8s = report.kubernetes
    assert k8s is not None
    where = '"ChargePeriodStart" >= %s AND "ChargePeriodStart" < %s'
    namespaces = {(c, ns): cents(v) for c, ns, v in plain(
        f'SELECT "x_Cluster", "x_Namespace", SUM("EffectiveCost") FROM k8s_allocation '
        f"WHERE {where} AND \"x_Namespace\" <> '__idle__' GROUP BY 1, 2", START, END)}
    assert {(s.cluster, s.key): cents(s.cost) for s in k8s.namespaces} == namespaces
    nodes = {(c, n): (cents(t), cents(i), u) for c, n, t, i, u in plain(
        f'SELECT "x_Cluster", "x_Node", SUM("EffectiveCost"), SUM(CASE WHEN "x_Namespace" = '
        f"'__idle__' THEN \"EffectiveCost\" ELSE 0 END), COUNT(DISTINCT CASE WHEN "
        f"\"x_PriceSource\" = 'default' THEN \"ChargePeriodStart\" END) FROM k8s_allocation "
        f"WHERE {where} GROUP BY 1, 2", START, END)}
    assert {(i.cluster, i.node): (cents(i.total), cents(i.idle), i.unpriced_hours)
            for i in k8s.nodes} == nodes
    assert [(i.cluster, i.node) for i in k8s.nodes if i.unpriced_hours] == [("prod-1", "node-2")]
    clusters = {c: (cents(t), cents(i)) for c, t, i in plain(
        f'SELECT "x_Cluster", SUM("EffectiveCost"), SUM(CASE WHEN "x_Namespace" = '
        f"'__idle__' THEN \"EffectiveCost\" ELSE 0 END) FROM k8s_allocation WHERE {where} "
        f"GROUP BY 1", START, END)}
    assert {i.cluster: (cents(i.total), cents(i.idle)) for i in k8s.clusters} == clusters
    assert all(0 < (i.share or 0) < 1 for i in k8s.nodes)


def test_anomalies_are_days_of_the_daily_totals(database: str) -> None:
    report = make_report(database)
    plain = Plain(database)
    totals = {(d, c): cents(v) for d, c, v in plain(
        'SELECT CAST(date_trunc(\'day\', "ChargePeriodStart") AS DATE), "BillingCurrency", '
        'SUM("EffectiveCost") FROM focus GROUP BY 1, 2')}
    assert report.anomalies, "the samples have at least one spike (2026-05-24 in USD)"
    for a in report.anomalies:
        assert cents(a.cost) == totals[(a.day, a.currency)]
    assert any(a.day == date(2026, 5, 24) and a.currency == "USD" for a in report.anomalies)


def test_cli_writes_one_self_contained_file(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    load_cost_tables(url, tmp_path)
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(app, ["report", "--db", url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "May 2026" in page and "April 2026" in page  # default: newest month with data
    assert not re.search(r'<(script|link|img)[^>]+(src|href)=', page)  # nothing loaded
    # (plotly.min.js names CDN URLs for map topologies it never fetches for these charts:
    # the browser test proves that the page requests nothing)
    assert len(page.encode()) < 6_000_000
    data = re.search(r'id="focusflow-data">(.*?)</script>', page, re.S)
    assert data is not None and len(data[1]) < 200_000  # aggregates, not rows
    bad = CliRunner().invoke(app, ["report", "--db", url, "--start", "2026-05-01"])
    assert bad.exit_code != 0


def test_a_missing_table_is_one_clear_line(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'none.duckdb'}"
    load_cost_tables(url, tmp_path)
    done = subprocess.run([str(Path(sys.executable).with_name("focusflow")), "report", "--db",
                           url, "--table", "nope", "--out", str(tmp_path / "r.html")],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "COLUMNS": "250"})
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: duckdb {tmp_path / 'none.duckdb'}: table 'nope' " \
        "does not exist"
    assert not (tmp_path / "r.html").exists()


def test_focus_1_3_table(tmp_path: Path) -> None:
    """FOCUS 1.3 (ServiceProviderName beside the deprecated ProviderName): every section."""
    url = f"duckdb:///{tmp_path / 'v13.duckdb'}"
    sink = open_sink(url)
    try:
        ingest(str(TEST_DATA / "v13" / "focus_1_3_cost_and_usage_aws.csv"), sink,
               IngestOptions(table="focus"))
        [newest] = sink.query("focus", 'SELECT MAX("ChargePeriodStart") AS m FROM {table}') \
            .column("m").to_pylist()
        report = build_report(sink, "focus", choose_period(sink, "focus", NOW), now=NOW)
    finally:
        sink.close()
    assert report.period.start.month == newest.month
    assert set(report.daily) == {"service", "sub-account", "region", "provider",
                                 "charge category"}
    [(effective, n)] = Plain(url)(
        'SELECT SUM("EffectiveCost"), COUNT(*) FROM focus WHERE "ChargePeriodStart" >= %s '
        'AND "ChargePeriodStart" < %s', report.period.start, report.period.end)
    [total] = report.totals
    assert (cents(total.effective), total.rows) == (cents(effective), n)
    assert sum(len(v) for v in report.daily["provider"][0].series.values()) > 0


def test_wrong_tables_are_named_with_their_flag(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'wrong.duckdb'}"
    load_cost_tables(url, tmp_path)
    load_allocation_table(url)
    sink = open_sink(url)
    try:
        period = explicit_period(START, END)
        with pytest.raises(ConfigError, match=r"^--allocation-table focus: no column x_Cluster"):
            build_report(sink, "focus", period, allocation_table="focus", now=NOW)
        with pytest.raises(ConfigError, match=r"^--table _focusflow_loads: not a FOCUS cost"):
            build_report(sink, "_focusflow_loads", period, now=NOW)
    finally:
        sink.close()
