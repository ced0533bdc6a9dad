"""Build a ``CostReport`` from a loaded FOCUS table with aggregate SQL (reports layer).

``build_report`` runs a fixed set of statements from ``reports.sql`` in the sink: totals per
currency for the period and the one before, daily cost per dimension (top N + "(other)"),
movers, commitment utilisation when the status columns exist, the Kubernetes section from an
allocation table, and the loads registry. A dimension's column is the first of its candidates
the table has (``ServiceProviderName`` in FOCUS 1.3, ``ProviderName`` before); a dimension
without any is left out and said so in the notes.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from decimal import Decimal

from focusflow.errors import ConfigError, SinkError
from focusflow.reports import sql
from focusflow.reports.anomalies import WINDOW_DAYS, find_anomalies
from focusflow.reports.kubernetes import kubernetes_section
from focusflow.reports.model import (
    Commitment,
    CostReport,
    CurrencyTotal,
    DailySeries,
    Mover,
    Quality,
    SourceLoads,
)
from focusflow.reports.period import Period, default_period
from focusflow.sinks import Sink
from focusflow.sinks.identifiers import LOADS_TABLE

# dimension label -> candidate columns, first present wins
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "service": ("ServiceName",),
    "sub-account": ("SubAccountName", "SubAccountId"),
    "region": ("RegionName", "RegionId", "Region"),
    "provider": ("ServiceProviderName", "ProviderName"),
    "charge category": ("ChargeCategory",),
}
# movers: label -> (key column candidates, display column candidates)
MOVERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "service": (("ServiceName",), ("ServiceName",)),
    "sub-account": (("SubAccountId", "SubAccountName"), ("SubAccountName", "SubAccountId")),
    "resource": (("ResourceId",), ("ResourceName", "ResourceId")),
}
REQUIRED = ("ChargePeriodStart", "BillingCurrency", "BilledCost", "EffectiveCost")


def _first(present: set[str], candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in present), None)


def _money(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def choose_period(sink: Sink, table: str, today: datetime) -> Period:
    """The default period for ``table`` (see ``period.default_period``)."""
    [row] = sql.rows(sink, table, sql.newest_charge())
    newest = row["newest"]
    return default_period(newest if isinstance(newest, datetime) else None, today)


def build_report(
    sink: Sink, table: str, period: Period, *, allocation_table: str | None = None,
    top: int = 8, movers: int = 10, now: datetime,
) -> CostReport:
    """Every section of the report, aggregated in the sink."""
    started = time.perf_counter()
    present = set(sql.columns(sink, table))
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise ConfigError(f"--table {table}: not a FOCUS cost table (no column "
                          f"{', '.join(missing)})")
    notes: list[str] = []
    daily: dict[str, list[DailySeries]] = {}
    for label, candidates in DIMENSIONS.items():
        column = _first(present, candidates)
        if column is None:
            notes.append(f"no {label} chart: the table has none of {', '.join(candidates)}")
            continue
        daily[label] = _daily(sink, table, sql.daily_by(sql.text(column)),
                              [period.previous_start, period.end, top])
    totals_by_day = {s.currency: s for s in _daily(
        sink, table, sql.daily_totals(),
        [period.previous_start - timedelta(days=WINDOW_DAYS), period.end], key="total")}
    since = period.previous_start.date()
    anomalies = [a for s in totals_by_day.values() for a in find_anomalies(s, since)]
    for series in totals_by_day.values():  # the chart shows the two periods only
        keep = [i for i, d in enumerate(series.days) if d >= since]
        series.days = [series.days[i] for i in keep]
        series.series = {k: [v[i] for i in keep] for k, v in series.series.items()}
    moved: dict[str, list[Mover]] = {}
    for label, (keys, labels) in MOVERS.items():
        key, shown = _first(present, keys), _first(present, labels)
        if key is not None and shown is not None:
            moved[label] = _movers(sink, table, period, key, shown, top=movers)
    report = CostReport(
        table=table, period=period, generated_at=now, top=top,
        totals=_totals(sink, table, period), daily=daily, daily_totals=totals_by_day,
        anomalies=anomalies, movers=moved, commitments=_commitments(sink, table, period, present),
        kubernetes=(kubernetes_section(sink, allocation_table, period)
                    if allocation_table else None),
        quality=_quality(sink, table), notes=notes,
    )
    if report.commitments is None:
        notes.append("no commitment section: the table has no CommitmentDiscountId and "
                     "CommitmentDiscountStatus columns (FOCUS 1.1+)")
    report.seconds = time.perf_counter() - started
    return report


def _totals(sink: Sink, table: str, period: Period) -> list[CurrencyTotal]:
    found: dict[str, dict[str, tuple[Decimal, Decimal, int]]] = {}
    for row in sql.rows(sink, table, sql.totals(),
                        [period.start, period.previous_start, period.end]):
        found.setdefault(row["currency"], {})[row["period"]] = (
            _money(row["billed"]), _money(row["effective"]), int(row["n"]))
    zero = (Decimal(0), Decimal(0), 0)
    return [
        CurrencyTotal(currency, *periods.get("current", zero), *periods.get("previous", zero))
        for currency, periods in sorted(found.items())
    ]


def _daily(sink: Sink, table: str, statement: str, params: list[object],
           key: str | None = None) -> list[DailySeries]:
    by_currency: dict[str, DailySeries] = {}
    cells: dict[str, dict[tuple[date, str], Decimal]] = {}
    for row in sql.rows(sink, table, statement, params):
        series = by_currency.setdefault(row["currency"], DailySeries(row["currency"]))
        name = key or str(row["key"])
        if name not in series.series:
            series.series[name] = []
        if not series.days or series.days[-1] != row["day"]:
            series.days.append(row["day"])
        cells.setdefault(series.currency, {})[(row["day"], name)] = _money(row["cost"])
    for currency, series in by_currency.items():
        totals: dict[str, Decimal] = {}
        for (_, name), value in cells[currency].items():
            totals[name] = totals.get(name, Decimal(0)) + value
        ranked = sorted(series.series, key=lambda n: (n == sql.OTHER, -totals[n], n))
        series.series = {n: [cells[currency].get((d, n), Decimal(0)) for d in series.days]
                         for n in ranked}
    return [by_currency[c] for c in sorted(by_currency)]


def _movers(sink: Sink, table: str, period: Period, key: str, label: str,
            *, top: int) -> list[Mover]:
    statement = sql.movers(sql.text(key), sql.text(label))
    params: list[object] = [period.start, period.start, period.previous_start, period.end,
                            top, top]
    return [Mover(r["currency"], r["key"], r["label"], _money(r["cur"]), _money(r["prev"]))
            for r in sql.rows(sink, table, statement, params)]


def _commitments(sink: Sink, table: str, period: Period,
                 present: set[str]) -> list[Commitment] | None:
    if not {"CommitmentDiscountId", "CommitmentDiscountStatus"} <= present:
        return None
    statement = sql.commitments("CommitmentDiscountName" in present)
    return [Commitment(r["currency"], r["id"], r["name"], _money(r["used"]),
                       _money(r["unused"]))
            for r in sql.rows(sink, table, statement, [period.start, period.end])]


def _quality(sink: Sink, table: str) -> Quality:
    [count] = sql.rows(sink, table, "SELECT COUNT(*) AS n FROM {table}")
    statement = (
        "SELECT source_id, COUNT(*) AS loads, SUM(rows_written) AS rows_written, "
        "MIN(loaded_at) AS first_loaded, MAX(loaded_at) AS last_loaded FROM {table} "
        "WHERE table_name = ? GROUP BY source_id ORDER BY MAX(loaded_at) DESC, source_id"
    )
    try:
        registry = sql.rows(sink, LOADS_TABLE, statement, [table])
    except SinkError:  # a sink without a queryable registry (or none yet): say so, not fail
        return Quality(int(count["n"]), None)
    sources = [SourceLoads(r["source_id"], int(r["loads"]), int(r["rows_written"] or 0),
                           r["first_loaded"], r["last_loaded"]) for r in registry]
    return Quality(int(count["n"]), sources)

