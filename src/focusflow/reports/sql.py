"""Portable aggregate SQL for the cost report (reports layer).

Every statement runs in the sink through ``Sink.query`` (DuckDB, PostgreSQL, and the sinks
that query through DuckDB) with ``{table}`` for the quoted table and ``?`` for bound values;
column names are quoted by ``quote``. Only aggregates leave the database: one row per day and
dimension value (top N plus "(other)"), per mover, per commitment, per node, never a raw row.
Periods are half-open on ``ChargePeriodStart``; sums are per ``BillingCurrency``, never across.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from focusflow.sinks import Sink, quote

OTHER = "(other)"
NONE = "(none)"
START = quote("ChargePeriodStart")
CURRENCY = f"COALESCE(CAST({quote('BillingCurrency')} AS VARCHAR), '{NONE}')"
DAY = f"CAST(date_trunc('day', {START}) AS DATE)"

Row = dict[str, Any]


def rows(sink: Sink, table: str, statement: str, params: Sequence[object] = ()) -> list[Row]:
    result: list[Row] = sink.query(table, statement, params).to_pylist()
    return result


def text(column: str) -> str:
    """A column as text with nulls shown as "(none)"."""
    return f"COALESCE(CAST({quote(column)} AS VARCHAR), '{NONE}')"


def columns(sink: Sink, table: str) -> list[str]:
    names: list[str] = sink.query(table, "SELECT * FROM {table} WHERE 1 = 0").column_names
    return names


def newest_charge() -> str:
    return f"SELECT MAX({START}) AS newest FROM {{table}}"


def totals() -> str:
    """Billed and effective cost and rows per currency, current vs previous period.

    Params: current start, previous start, end.
    """
    billed, effective = quote("BilledCost"), quote("EffectiveCost")
    return (
        f"SELECT {CURRENCY} AS currency, CASE WHEN {START} >= ? THEN 'current' "
        f"ELSE 'previous' END AS period, SUM({billed}) AS billed, SUM({effective}) AS effective, "
        f"COUNT(*) AS n FROM {{table}} WHERE {START} >= ? AND {START} < ? "
        f"GROUP BY 1, 2 ORDER BY 1, 2"
    )


def daily_by(key_sql: str) -> str:
    """Daily EffectiveCost per currency and key, the top N keys by total plus "(other)".

    Params: start, end, top.
    """
    return (
        f"WITH base AS (SELECT {DAY} AS day, {CURRENCY} AS currency, {key_sql} AS key, "
        f"{quote('EffectiveCost')} AS cost FROM {{table}} WHERE {START} >= ? AND {START} < ?), "
        f"ranked AS (SELECT currency, key, ROW_NUMBER() OVER (PARTITION BY currency "
        f"ORDER BY SUM(cost) DESC NULLS LAST, key) AS rn FROM base GROUP BY currency, key) "
        f"SELECT b.day, b.currency, CASE WHEN r.rn <= ? THEN b.key ELSE '{OTHER}' END AS key, "
        f"COALESCE(SUM(b.cost), 0) AS cost FROM base b JOIN ranked r "
        f"ON b.currency = r.currency AND b.key = r.key GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )


def daily_totals() -> str:
    """Daily EffectiveCost per currency. Params: start, end."""
    return (
        f"SELECT {DAY} AS day, {CURRENCY} AS currency, "
        f"COALESCE(SUM({quote('EffectiveCost')}), 0) AS cost FROM {{table}} "
        f"WHERE {START} >= ? AND {START} < ? GROUP BY 1, 2 ORDER BY 1, 2"
    )


def movers(key_sql: str, label_sql: str) -> str:
    """The keys whose EffectiveCost rose most and fell most, per currency.

    Params: current start, current start, previous start, end, top, top.
    """
    cost = quote("EffectiveCost")
    return (
        f"WITH base AS (SELECT {CURRENCY} AS currency, {key_sql} AS key, "
        f"MAX({label_sql}) AS label, "
        f"COALESCE(SUM(CASE WHEN {START} >= ? THEN {cost} END), 0) AS cur, "
        f"COALESCE(SUM(CASE WHEN {START} < ? THEN {cost} END), 0) AS prev "
        f"FROM {{table}} WHERE {START} >= ? AND {START} < ? GROUP BY 1, 2), "
        f"ranked AS (SELECT currency, key, label, cur, prev, "
        f"ROW_NUMBER() OVER (PARTITION BY currency ORDER BY cur - prev DESC, key) AS up, "
        f"ROW_NUMBER() OVER (PARTITION BY currency ORDER BY cur - prev ASC, key) AS down "
        f"FROM base) "
        f"SELECT currency, key, label, cur, prev FROM ranked "
        f"WHERE (up <= ? AND cur > prev) OR (down <= ? AND cur < prev) "
        f"ORDER BY currency, cur - prev DESC, key"
    )


def commitments(with_name: bool) -> str:
    """Used and unused EffectiveCost per commitment discount. Params: start, end."""
    status, cid = quote("CommitmentDiscountStatus"), quote("CommitmentDiscountId")
    name = text("CommitmentDiscountName") if with_name else f"CAST({cid} AS VARCHAR)"
    cost = quote("EffectiveCost")
    return (
        f"SELECT * FROM (SELECT {CURRENCY} AS currency, CAST({cid} AS VARCHAR) AS id, "
        f"MAX({name}) AS name, "
        f"COALESCE(SUM(CASE WHEN {status} = 'Used' THEN {cost} END), 0) AS used, "
        f"COALESCE(SUM(CASE WHEN {status} = 'Unused' THEN {cost} END), 0) AS unused "
        f"FROM {{table}} WHERE {START} >= ? AND {START} < ? AND {cid} IS NOT NULL "
        f"AND {status} IN ('Used', 'Unused') GROUP BY 1, 2) c "
        f"ORDER BY currency, used + unused DESC, id"
    )
