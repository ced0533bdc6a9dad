"""Allocations as FOCUS-shaped Arrow rows (allocation layer).

One row per (hour, cluster, node, aggregation key) plus one ``__idle__`` row per node-hour:
``ChargePeriodStart/End`` = the hour, ``BilledCost = EffectiveCost`` = the allocated cost,
``ResourceId`` = the node's matched id, ``ServiceName = Kubernetes``, ``ChargeCategory =
Usage``, and ``x_*`` columns for the Kubernetes dimensions and quantities. Money and quantities
are ``decimal128(38, 18)`` as on the FOCUS load path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Literal

import pyarrow as pa

from focusflow.allocation.model import CONTEXT, ZERO, Allocation, NodeHour
from focusflow.focus import DECIMAL, TIMESTAMP

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
    """A node-hour with its cost, where the price came from and its allocations."""

    node: NodeHour
    resource_id: str
    cost: Decimal
    currency: str
    price_source: str  # "billing" | "default"
    allocations: list[Allocation]


def _key(row: Allocation, by: GroupBy) -> tuple[str, str, str, str, str]:
    if row.is_idle or by == "container":
        return (row.namespace, row.pod, row.container, row.controller, row.controller_kind)
    if by == "pod":
        return (row.namespace, row.pod, "", row.controller, row.controller_kind)
    if by == "controller":
        return (row.namespace, "", "", row.controller, row.controller_kind)
    return (row.namespace, "", "", "", "")


def aggregate(rows: list[Allocation], by: GroupBy) -> list[Allocation]:
    """Rows of one node-hour summed per aggregation key (idle stays its own row)."""
    if by == "container":
        return rows
    sums: dict[tuple[str, str, str, str, str], list[Decimal]] = {}
    with localcontext(CONTEXT):  # 18 decimals on byte-hours exceed the default precision
        for row in rows:
            total = sums.setdefault(_key(row, by), [ZERO] * 6)
            for i, value in enumerate((row.cpu_core_hours, row.ram_byte_hours, row.gpu_hours,
                                       row.cpu_cost, row.ram_cost, row.gpu_cost)):
                total[i] += value
    return [Allocation(*key, *values) for key, values in sums.items()]


def _month(moment: datetime) -> tuple[datetime, datetime]:
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else \
        start.replace(month=start.month + 1)
    return start, end


def to_batch(priced: Iterable[PricedNodeHour], by: GroupBy) -> pa.RecordBatch:
    """FOCUS-shaped rows of the priced node-hours."""
    columns: dict[str, list[object]] = {name: [] for name in SCHEMA.names}
    # Per-row values straight into their columns (no dict per row), named in SCHEMA's order.
    (billing_start, billing_end, charge_start, charge_end, category, description, billed,
     effective, currency, provider, service, service_category, resource_id, resource_name,
     resource_type, cluster, node_name, namespace, pod, container, controller, controller_kind,
     cpu_hours, ram_hours, gpu_hours, cpu_cost, ram_cost, gpu_cost, price_source
     ) = columns.values()
    grouped = f"Kubernetes allocation by {by}"
    for item in priced:
        node = item.node
        start = datetime.fromtimestamp(node.hour, UTC)
        end = datetime.fromtimestamp(node.hour + 3600, UTC)
        period = _month(start)
        idle_description = "Idle capacity of node " + node.node
        for row in aggregate(item.allocations, by):
            cost = row.cost
            billing_start.append(period[0])
            billing_end.append(period[1])
            charge_start.append(start)
            charge_end.append(end)
            category.append("Usage")
            description.append(idle_description if row.is_idle else grouped)
            billed.append(cost)
            effective.append(cost)
            currency.append(item.currency)
            provider.append("Kubernetes")
            service.append("Kubernetes")
            service_category.append("Compute")
            resource_id.append(item.resource_id)
            resource_name.append(node.node)
            resource_type.append("Kubernetes Node")
            cluster.append(node.cluster)
            node_name.append(node.node)
            namespace.append(row.namespace)
            pod.append(row.pod or None)
            container.append(row.container or None)
            controller.append(row.controller or None)
            controller_kind.append(row.controller_kind or None)
            cpu_hours.append(row.cpu_core_hours)
            ram_hours.append(row.ram_byte_hours)
            gpu_hours.append(row.gpu_hours)
            cpu_cost.append(row.cpu_cost)
            ram_cost.append(row.ram_cost)
            gpu_cost.append(row.gpu_cost)
            price_source.append(item.price_source)
    return pa.RecordBatch.from_arrays(
        [_decimals(values) if field.type == DECIMAL else pa.array(values, field.type)
         for field, values in zip(SCHEMA, columns.values(), strict=True)], schema=SCHEMA)


def _decimals(values: list[object]) -> pa.Array:
    """Exact: Arrow reads decimal text faster than it converts ``Decimal`` objects, and a
    (safe) cast refuses a value it cannot hold exactly, as the direct conversion does."""
    return pa.array([str(value) for value in values], _STRING).cast(DECIMAL)
