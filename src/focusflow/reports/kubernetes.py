"""The Kubernetes section of the report, from a ``focusflow allocate`` table (reports layer).

The allocation table holds one row per hour, node and aggregation key plus one ``__idle__``
row per node-hour (``x_Namespace = __idle__``), with ``x_PriceSource = default`` on node-hours
priced from the default sheet because no billing row matched (see docs/allocation.md). The
section shows cost by namespace and by workload (idle left out), the idle share per node and
per cluster, and flags the nodes with default-priced hours.
"""

from __future__ import annotations

from decimal import Decimal

from focusflow.errors import ConfigError
from focusflow.reports import sql
from focusflow.reports.model import Idle, Kubernetes, Share
from focusflow.reports.period import Period
from focusflow.sinks import Sink, quote

IDLE = "__idle__"
NEEDED = ("ChargePeriodStart", "BillingCurrency", "EffectiveCost", "x_Cluster", "x_Node",
          "x_Namespace", "x_PriceSource")
WORKLOADS = 20


def _money(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _where() -> str:
    return f"{sql.START} >= ? AND {sql.START} < ?"


def kubernetes_section(sink: Sink, table: str, period: Period) -> Kubernetes:
    present = set(sql.columns(sink, table))
    missing = [c for c in NEEDED if c not in present]
    if missing:
        raise ConfigError(f"--allocation-table {table}: no column {', '.join(missing)} "
                          f"(expected a table written by `focusflow allocate`)")
    bounds: list[object] = [period.start, period.end]
    cost, ns = quote("EffectiveCost"), quote("x_Namespace")
    cluster = sql.text("x_Cluster")
    workload = (f"COALESCE({quote('x_ControllerKind')} || '/' || {quote('x_Controller')}, "
                f"'pod/' || {quote('x_Pod')}, '(namespace)')")
    shares = (
        "SELECT {currency} AS currency, {cluster} AS cluster, {key} AS key, "
        "COALESCE(SUM({cost}), 0) AS cost FROM {{table}} WHERE {where} AND {ns} <> '{idle}' "
        "GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 2, 3"
    )
    common = {"currency": sql.CURRENCY, "cluster": cluster, "cost": cost, "where": _where(),
              "ns": ns, "idle": IDLE}
    section = Kubernetes(table)
    section.namespaces = [
        Share(r["currency"], r["cluster"], r["key"], _money(r["cost"]))
        for r in sql.rows(sink, table, shares.format(key=sql.text("x_Namespace"), **common),
                          bounds)]
    workloads = sql.rows(sink, table, shares.format(
        key=f"{sql.text('x_Namespace')} || ' ' || {workload}", **common) + f" LIMIT {WORKLOADS}",
        bounds)
    section.workloads = [Share(r["currency"], r["cluster"], r["key"], _money(r["cost"]))
                         for r in workloads]
    section.nodes = _idle(sink, table, bounds, sql.text("x_Node"))
    section.clusters = _idle(sink, table, bounds, None)
    return section


def _idle(sink: Sink, table: str, bounds: list[object], node: str | None) -> list[Idle]:
    cost, ns = quote("EffectiveCost"), quote("x_Namespace")
    node_sql = node or "CAST(NULL AS VARCHAR)"
    unpriced = (f"COUNT(DISTINCT CASE WHEN {quote('x_PriceSource')} = 'default' THEN "
                f"{sql.text('x_Node')} || ' ' || CAST({sql.START} AS VARCHAR) END)")
    statement = (
        f"SELECT {sql.CURRENCY} AS currency, {sql.text('x_Cluster')} AS cluster, "
        f"{node_sql} AS node, COALESCE(SUM({cost}), 0) AS total, "
        f"COALESCE(SUM(CASE WHEN {ns} = '{IDLE}' THEN {cost} END), 0) AS idle, "
        f"{unpriced} AS unpriced FROM {{table}} WHERE {_where()} "
        f"GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    return [Idle(r["currency"], r["cluster"], r["node"], _money(r["total"]), _money(r["idle"]),
                 int(r["unpriced"])) for r in sql.rows(sink, table, statement, bounds)]
