"""The allocation model for one node-hour (allocation layer, pure: no I/O).

Each running container is allocated ``max(request, usage)`` of CPU and RAM (GPU = request) for
the part of the hour it ran. Over-allocation (reference section 8, opencost#1815) is handled by
option 2: when the containers of a node-hour together claim more of a resource than the node
had, every claim on that resource is scaled down by the same factor, so they sum to the
capacity and idle is 0, never negative. What the containers leave is the node's ``__idle__``.

Money is ``Decimal`` with 18 fractional digits (the sinks' ``DECIMAL(38, 18)``). Shares are
rounded down and idle is the exact remainder, so ``sum(allocated) + idle == node cost`` holds to
the last digit for every node-hour, and idle is never negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal, localcontext

from focusflow.allocation.prices import DefaultPrices, split_node_cost

IDLE = "__idle__"
QUANTUM = Decimal("1e-18")
ZERO = Decimal(0)
ONE = Decimal(1)
# Byte-hours reach 1e13 and carry 18 decimals: more digits than the default context's 28.
CONTEXT = Context(prec=60)


def q(value: Decimal) -> Decimal:
    """Round down to the sinks' 18 fractional digits."""
    return value.quantize(QUANTUM, rounding=ROUND_DOWN, context=CONTEXT)


@dataclass(frozen=True, slots=True)
class NodeHour:
    """One node in one hour: how much of the hour it ran and its capacity."""

    cluster: str
    node: str
    provider_id: str
    hour: int  # Unix seconds of the hour's start
    running: Decimal  # share of the hour the node existed, 0..1
    cpus: Decimal
    ram_bytes: Decimal
    gpus: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Workload:
    """One container in one hour (quantities already integrated over the hour)."""

    namespace: str
    pod: str
    container: str
    controller: str
    controller_kind: str
    running: Decimal  # hours running in this hour, 0..1
    cpu_request: Decimal  # cores (average while present)
    cpu_usage_hours: Decimal  # core-hours used (rate over the hour x 1 h)
    ram_request: Decimal  # bytes (average)
    ram_usage: Decimal  # bytes (average working set while running)
    gpu_request: Decimal = ZERO

    def claims(self) -> tuple[Decimal, Decimal, Decimal]:
        """(core-hours, byte-hours, GPU-hours) = max(request, usage) for the time it ran."""
        cpu = max(self.cpu_request * self.running, self.cpu_usage_hours)
        ram = max(self.ram_request, self.ram_usage) * self.running
        return cpu, ram, self.gpu_request * self.running


@dataclass(frozen=True, slots=True)
class Allocation:
    """What one container (or the node's idle) is charged for one node-hour."""

    namespace: str
    pod: str
    container: str
    controller: str
    controller_kind: str
    cpu_core_hours: Decimal
    ram_byte_hours: Decimal
    gpu_hours: Decimal
    cpu_cost: Decimal
    ram_cost: Decimal
    gpu_cost: Decimal

    @property
    def cost(self) -> Decimal:
        return self.cpu_cost + self.ram_cost + self.gpu_cost

    @property
    def is_idle(self) -> bool:
        return self.namespace == IDLE


def _scaled(claims: list[Decimal], capacity: Decimal) -> list[Decimal]:
    """Option 2 of reference section 8: scale claims down to the capacity when they exceed it."""
    total = sum(claims, ZERO)
    if total <= capacity or total == 0:
        return claims
    return [CONTEXT.divide(CONTEXT.multiply(claim, capacity), total) for claim in claims]


def _costs(amounts: list[Decimal], capacity: Decimal, pool: Decimal) -> list[Decimal]:
    """Each amount's share of ``pool`` (the cost of ``capacity``), rounded down."""
    if capacity <= 0:
        return [ZERO for _ in amounts]
    return [q(CONTEXT.divide(CONTEXT.multiply(pool, amount), capacity)) for amount in amounts]


def allocate(node: NodeHour, cost: Decimal, workloads: Sequence[Workload],
             sheet: DefaultPrices) -> list[Allocation]:
    """The allocations of ``workloads`` on ``node`` for one hour, then the node's idle row.

    ``cost`` is what the node cost for this hour (already times ``node.running``). A resource
    the node lacks (no GPU) allocates nothing of it.
    """
    with localcontext(CONTEXT):
        cost = q(cost)
        cpu_pool, _, gpu_pool = split_node_cost(cost, node.cpus, node.ram_bytes, node.gpus, sheet)
        cpu_pool, gpu_pool = q(cpu_pool), q(gpu_pool)
        ram_pool = cost - cpu_pool - gpu_pool
        capacity = (node.cpus * node.running, node.ram_bytes * node.running,
                    node.gpus * node.running)
        claims = [w.claims() for w in workloads]
        amounts = [_scaled([c[r] for c in claims], capacity[r]) if capacity[r] > 0
                   else [ZERO] * len(claims) for r in range(3)]
        costs = [_costs(amounts[r], capacity[r], pool)
                 for r, pool in enumerate((cpu_pool, ram_pool, gpu_pool))]
        rows = [
            Allocation(w.namespace, w.pod, w.container, w.controller, w.controller_kind,
                       q(amounts[0][i]), q(amounts[1][i]), q(amounts[2][i]),
                       costs[0][i], costs[1][i], costs[2][i])
            for i, w in enumerate(workloads)
        ]
        used = [sum(amounts[r], ZERO) for r in range(3)]
        idle_costs = [pool - sum(costs[r], ZERO)
                      for r, pool in enumerate((cpu_pool, ram_pool, gpu_pool))]
        rows.append(Allocation(
            IDLE, "", "", "", "",
            q(max(capacity[0] - used[0], ZERO)), q(max(capacity[1] - used[1], ZERO)),
            q(max(capacity[2] - used[2], ZERO)), *idle_costs))
        return rows


__all__ = ["IDLE", "Allocation", "NodeHour", "Workload", "allocate", "q"]
