"""Allocations as FOCUS-shaped Arrow rows (allocation layer).

One row per (hour, cluster, node, aggregation key) plus one ``__idle__`` row per node-hour:
``ChargePeriodStart/End`` = the hour, ``BilledCost = EffectiveCost`` = the allocated cost,
``ResourceId`` = the node's matched id, ``ServiceName = Kubernetes``, ``ChargeCategory =
Usage``, and ``x_*`` columns for the Kubernetes dimensions and quantities. Money and quantities
are ``decimal128(38, 18)`` as on the FOCUS load path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import duckdb
import pyarrow as pa

from focusflow.allocation.model import IDLE, NodeHour, Shares
from focusflow.focus import DECIMAL, TIMESTAMP
from focusflow.focus.conversion import blank_to_null

GroupBy = Literal["container", "pod", "controller", "namespace"]
_STRING = pa.string()

SCHEMA = pa.schema([
    ("BillingPeriodStart", TIMESTAMP), ("BillingPeriodEnd", TIMESTAMP),
    ("ChargePeriodStart", TIMESTAMP), ("ChargePeriodEnd", TIMESTAMP),
    ("ChargeCategory", _STRING), ("ChargeDescription", _STRING),
    ("BilledCost", DECIMAL), ("EffectiveCost", DECIMAL), ("BillingCurrency", _STRING),
    ("ProviderName", _STRING), ("ServiceName", _STRING), ("ServiceCategory", _STRING),
    ("ResourceId", _STRING), ("ResourceName", _STRING), ("ResourceType", _STRING),
    ("x_Cluster", _STRING), ("x_Node", _STRING), ("x_Namespace", _STRING), ("x_Pod", _STRING),
    ("x_Container", _STRING), ("x_Controller", _STRING), ("x_ControllerKind", _STRING),
    ("x_CpuCoreHours", DECIMAL), ("x_RamByteHours", DECIMAL), ("x_GpuHours", DECIMAL),
    ("x_CpuCost", DECIMAL), ("x_RamCost", DECIMAL), ("x_GpuCost", DECIMAL),
    ("x_PriceSource", _STRING),
])


@dataclass(frozen=True, slots=True)
class PricedNodeHour:
    """A node-hour with where its price came from and what the model charged on it."""

    node: NodeHour
    resource_id: str
    currency: str
    price_source: str  # "billing" | "default"
    shares: Shares


# The aggregation key of each --by but container (idle rows are their own key: their pod,
# container and controller are empty in every case).
_KEYS: dict[str, str] = {
    "pod": "namespace, pod, '' AS container, controller, controller_kind",
    "controller": "namespace, '' AS pod, '' AS container, controller, controller_kind",
    "namespace": "namespace, '' AS pod, '' AS container, '' AS controller, "
                 "'' AS controller_kind",
}
_AMOUNTS = ("cpu_h", "ram_h", "gpu_h", "cpu_c", "ram_c", "gpu_c")
_ROWS = """
WITH charged AS (
    SELECT nh, 0 AS idle, rn, namespace, pod, container, controller,
           controller_kind, {amounts} FROM costed
    UNION ALL
    SELECT nh, 1, 0, '{idle}', '', '', '', '', {amounts} FROM idle),
grouped AS ({grouped})
SELECT n.billing_start AS "BillingPeriodStart", n.billing_end AS "BillingPeriodEnd",
       n.charge_start AS "ChargePeriodStart", n.charge_end AS "ChargePeriodEnd",
       'Usage' AS "ChargeCategory",
       CASE WHEN g.idle = 1 THEN 'Idle capacity of node ' || n.node ELSE $grouped END
           AS "ChargeDescription",
       g.cpu_c + g.ram_c + g.gpu_c AS "BilledCost", g.cpu_c + g.ram_c + g.gpu_c AS
           "EffectiveCost", n.currency AS "BillingCurrency", 'Kubernetes' AS "ProviderName",
       'Kubernetes' AS "ServiceName", 'Compute' AS "ServiceCategory",
       n.resource_id AS "ResourceId", n.node AS "ResourceName",
       'Kubernetes Node' AS "ResourceType", n.cluster AS "x_Cluster", n.node AS "x_Node",
       g.namespace AS "x_Namespace", nullif(g.pod, '') AS "x_Pod",
       nullif(g.container, '') AS "x_Container", nullif(g.controller, '') AS "x_Controller",
       nullif(g.controller_kind, '') AS "x_ControllerKind", g.cpu_h AS "x_CpuCoreHours",
       g.ram_h AS "x_RamByteHours", g.gpu_h AS "x_GpuHours", g.cpu_c AS "x_CpuCost",
       g.ram_c AS "x_RamCost", g.gpu_c AS "x_GpuCost", n.price_source AS "x_PriceSource"
       {first}
FROM grouped g JOIN node_hours n USING (nh)
ORDER BY g.nh, g.idle, g.first
"""


def _month(moment: datetime) -> tuple[datetime, datetime]:
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else \
        start.replace(month=start.month + 1)
    return start, end


class ChunkRows:
    """A chunk's rows, built node-hour by node-hour (``add``) and shaped at the end
    (``table``). What the model charged becomes Arrow decimals every ``FLUSH_ROWS`` rows, so a
    chunk holds 16 bytes per value rather than a ``Decimal`` object."""

    FLUSH_ROWS = 16_384

    def __init__(self) -> None:
        self._pending: list[list[Decimal]] = [[] for _ in _AMOUNTS]
        self._pending_idle: list[list[Decimal]] = [[] for _ in _AMOUNTS]
        self._charged: list[list[pa.Array]] = [[] for _ in _AMOUNTS]
        self._idle: list[list[pa.Array]] = [[] for _ in _AMOUNTS]
        self._nodes: list[tuple[NodeHour, str, str, str]] = []

    def add(self, item: PricedNodeHour) -> None:
        """The next node-hour (its containers are the next rows of the placed table)."""
        shares = item.shares
        for column, part in zip(self._pending, (*shares.amounts, *shares.costs), strict=True):
            column.extend(part)
        for column, value in zip(self._pending_idle, (*shares.idle_amounts,
                                                      *shares.idle_costs), strict=True):
            column.append(value)
        self._nodes.append((item.node, item.resource_id, item.currency, item.price_source))
        if len(self._pending[0]) >= self.FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        for pending, arrays in ((self._pending, self._charged),
                                (self._pending_idle, self._idle)):
            for column, chunks in zip(pending, arrays, strict=True):
                chunks.append(_decimals(column))
                column.clear()

    def table(self, con: duckdb.DuckDBPyConnection, placed: pa.Table, by: GroupBy
              ) -> pa.Table:
        """FOCUS-shaped rows (``SCHEMA``): the containers of ``placed`` (the node-hour index
        ``nh``, namespace, pod, container, controller and its kind, in model order) charged
        what was added, summed per ``by`` key within each node-hour, then each node-hour's
        idle; ordered by node-hour (so by hour), then first appearance, idle last. The sums
        run in DuckDB on ``DECIMAL(38, 18)``: exact, as the model's own.

        Without the controller columns in ``placed`` (``by`` other than controller: a pod has
        one controller an hour, so it never splits a key) the rows carry none and a column
        ``first`` (the row's first container in ``placed``; NULL for idle) for
        ``with_controllers`` to add them once the owners are known."""
        self._flush()
        later = "controller" not in placed.column_names
        if later and by == "controller":
            raise ValueError("rows by controller need the controllers to group them")
        costed = placed.select(["nh", "namespace", "pod", "container"])
        for name in ("controller", "controller_kind"):
            costed = costed.append_column(name, pa.repeat("", placed.num_rows).cast(_STRING)
                                          if later else placed.column(name))
        costed = costed.append_column("rn", pa.array(range(placed.num_rows), pa.int64()))
        for name, chunks in zip(_AMOUNTS, self._charged, strict=True):
            costed = costed.append_column(name, pa.chunked_array(chunks, DECIMAL))
        nh = pa.array(range(len(self._nodes)), pa.int64())
        idle = pa.table({"nh": nh, **{name: pa.chunked_array(chunks, DECIMAL)
                                      for name, chunks in zip(_AMOUNTS, self._idle,
                                                              strict=True)}})
        tables = {"costed": costed, "idle": idle, "node_hours": _node_hours(self._nodes)}
        for name, table in tables.items():
            con.register(name, table)
        try:
            # By container every row is its own key: nothing to sum.
            grouped = "SELECT *, rn AS first FROM charged" if by == "container" else (
                f"SELECT nh, idle, min(rn) AS first, {_KEYS[by]}, "
                f"{', '.join(f'sum({name}) AS {name}' for name in _AMOUNTS)} "
                "FROM charged GROUP BY ALL")
            sql = _ROWS.format(amounts=", ".join(_AMOUNTS), idle=IDLE, grouped=grouped,
                               first=", CASE WHEN g.idle = 0 THEN g.first END AS first"
                               if later else "")
            rows = con.sql(sql, params={"grouped": f"Kubernetes allocation by {by}"})
            return rows.to_arrow_table().cast(
                SCHEMA.append(pa.field("first", pa.int64())) if later else SCHEMA)
        finally:
            for name in tables:
                con.unregister(name)


def with_controllers(rows: pa.Table, controllers: pa.Table) -> pa.Table:
    """``rows`` of ``ChunkRows.table`` shaped without controllers (``SCHEMA`` + ``first``), each
    with the controller of its first container: ``controllers`` has one ``controller`` and
    ``controller_kind`` (empty: none) per row of the chunk's placed table, in its order."""
    first = rows.column("first")
    out = rows.drop_columns(["first"])
    for column, name in (("x_Controller", "controller"), ("x_ControllerKind", "controller_kind")):
        values = controllers.column(name).take(first)  # NULL for idle rows
        # An empty controller (none) NULL, as the shaping SQL's nullif makes it.
        out = out.set_column(out.schema.get_field_index(column), column, blank_to_null(values))
    return out


def chunk_rows(con: duckdb.DuckDBPyConnection, placed: pa.Table,
               priced: list[PricedNodeHour], by: GroupBy) -> pa.Table:
    """``ChunkRows.table`` of ``priced``, all at once."""
    rows = ChunkRows()
    for item in priced:
        rows.add(item)
    return rows.table(con, placed, by)


def _node_hours(nodes: list[tuple[NodeHour, str, str, str]]) -> pa.Table:
    """Per node-hour (``nh`` = its index): its periods, names, id, currency and price source."""
    columns: dict[str, list[object]] = {name: [] for name in (
        "billing_start", "billing_end", "charge_start", "charge_end", "cluster", "node",
        "resource_id", "currency", "price_source")}
    (billing_start, billing_end, charge_start, charge_end, cluster, node_name, resource_id,
     currency, price_source) = columns.values()
    for node, resource, money, source in nodes:
        start = datetime.fromtimestamp(node.hour, UTC)
        month = _month(start)
        billing_start.append(month[0])
        billing_end.append(month[1])
        charge_start.append(start)
        charge_end.append(datetime.fromtimestamp(node.hour + 3600, UTC))
        cluster.append(node.cluster)
        node_name.append(node.node)
        resource_id.append(resource)
        currency.append(money)
        price_source.append(source)
    return pa.table({"nh": pa.array(range(len(nodes)), pa.int64()),
                     **{name: pa.array(values, TIMESTAMP if name.endswith(("_start", "_end"))
                                       else _STRING) for name, values in columns.items()}})


def _decimals(values: list[Decimal]) -> pa.Array:
    """Exact: Arrow refuses a ``Decimal`` it cannot hold without loss (the model's values
    carry at most 18 decimals, so none is refused)."""
    return pa.array(values, DECIMAL)
