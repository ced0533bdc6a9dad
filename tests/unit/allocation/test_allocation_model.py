"""The pure allocation model: OpenCost's price split, max(request, usage), over-allocation
scaled down (option 2), idle, and the invariant sum(allocated) + idle == node cost."""

from __future__ import annotations

import random
from decimal import Decimal, localcontext

import pytest

from focusflow.allocation import IDLE, DefaultPrices, NodeHour, Workload, allocate, unit_prices
from focusflow.allocation.prices import split_node_cost

GIB = Decimal(1024**3)
SHEET = DefaultPrices()
D = Decimal


def node(cpus: str = "4", ram_gib: str = "16", gpus: str = "0", running: str = "1") -> NodeHour:
    return NodeHour("c1", "n1", "aws:///z/i-1", 0, D(running), D(cpus), D(ram_gib) * GIB,
                    D(gpus))


def work(name: str, *, cpu_req: str = "0", cpu_use: str = "0", ram_req: str = "0",
         ram_use: str = "0", running: str = "1", gpu: str = "0") -> Workload:
    return Workload("ns", name, "app", "dep", "Deployment", D(running), D(cpu_req),
                    D(cpu_use), D(ram_req) * GIB, D(ram_use) * GIB, D(gpu))


def test_worked_example_of_the_reference() -> None:
    """0.192 $/h, 4 vCPU, 16 GiB => CPU 0.031247 $/vCPU-h, RAM 0.0041882 $/GiB-h."""
    cpu, ram, gpu = unit_prices(D("0.192"), D(4), 16 * GIB, D(0), SHEET)
    assert round(cpu, 6) == D("0.031247")
    assert round(ram, 7) == D("0.0041882")
    assert gpu == 0
    assert 4 * cpu + 16 * ram == pytest.approx(D("0.192"), rel=D("1e-20"))


def test_gpu_node_example_of_the_reference() -> None:
    """3.06 $/h, 8 vCPU, 61 GiB, 1 GPU (price unknown) => RAM 0.008872, CPU 0.066192,
    GPU 1.98926."""
    cpu, ram, gpu = unit_prices(D("3.06"), D(8), 61 * GIB, D(1), SHEET)
    assert (round(ram, 6), round(cpu, 6), round(gpu, 5)) == (
        D("0.008872"), D("0.066192"), D("1.98926"))


def test_split_adds_up_exactly() -> None:
    shares = split_node_cost(D("3.06"), D(8), 61 * GIB, D(1), SHEET)
    assert sum(shares) == D("3.06")


def test_max_of_request_and_usage_priced_per_unit() -> None:
    rows = allocate(node(), D("0.192"), [
        work("a", cpu_req="1", cpu_use="0.5", ram_req="2", ram_use="4"),   # CPU by request
        work("b", cpu_req="0.5", cpu_use="1.5", ram_req="3", ram_use="1"),  # CPU by usage
    ], SHEET)
    a, b, idle = rows
    cpu_price, ram_price, _ = unit_prices(D("0.192"), D(4), 16 * GIB, D(0), SHEET)
    assert (a.cpu_core_hours, a.ram_byte_hours) == (D(1), 4 * GIB)
    assert (b.cpu_core_hours, b.ram_byte_hours) == (D("1.5"), 3 * GIB)
    assert a.cpu_cost == pytest.approx(cpu_price, abs=D("1e-17"))
    assert a.ram_cost == pytest.approx(4 * ram_price, abs=D("1e-17"))
    assert b.cpu_cost == pytest.approx(D("1.5") * cpu_price, abs=D("1e-17"))
    # idle = what is left of 4 cores and 16 GiB: 1.5 cores and 9 GiB
    assert idle.namespace == IDLE
    assert (idle.cpu_core_hours, idle.ram_byte_hours) == (D("1.5"), 9 * GIB)
    assert idle.cost == pytest.approx(D("1.5") * cpu_price + 9 * ram_price, abs=D("1e-16"))
    assert sum(r.cost for r in rows) == D("0.192")


def test_over_allocation_is_scaled_down_and_idle_is_zero() -> None:
    """opencost#1815: A uses 1 GiB with no request, B requests 1 GiB and uses 0, the node has
    1 GiB: claims of 2 GiB are scaled to 0.5 GiB each instead of idle going negative."""
    rows = allocate(node(cpus="1", ram_gib="1"), D("0.10"), [
        work("a", ram_use="1"), work("b", ram_req="1")], SHEET)
    a, b, idle = rows
    assert a.ram_byte_hours == b.ram_byte_hours == GIB / 2
    assert a.ram_cost == b.ram_cost
    assert idle.ram_byte_hours == 0
    assert idle.ram_cost == 0  # nothing rounds below zero: shares are rounded down
    assert idle.cpu_cost > 0  # the CPU nobody claimed is still idle
    assert sum(r.cost for r in rows) == D("0.10")


def test_partial_hours_scale_claims_and_capacity() -> None:
    """A node that ran half the hour offers half its capacity; a container that ran a
    quarter of the hour claims a quarter of its request (usage is already core-hours)."""
    rows = allocate(node(running="0.5"), D("0.096"), [
        work("a", cpu_req="2", cpu_use="0.1", ram_req="4", running="0.25")], SHEET)
    a, idle = rows
    assert (a.cpu_core_hours, a.ram_byte_hours) == (D("0.5"), GIB)
    assert idle.cpu_core_hours == D("1.5")
    assert idle.ram_byte_hours == 7 * GIB
    assert a.cost == pytest.approx(D("0.192") * (D("0.5") * D("0.031247") / D("0.192")
                                                 + D("0.0041882") / D("0.192")), rel=D("1e-4"))
    assert a.cost + idle.cost == D("0.096")


def test_gpu_is_allocated_by_request_only_on_gpu_nodes() -> None:
    on_gpu = allocate(node(gpus="1"), D("3"), [work("g", gpu="1")], SHEET)
    assert on_gpu[0].gpu_hours == 1
    assert on_gpu[1].gpu_cost == 0  # the one GPU is fully claimed
    no_gpu = allocate(node(), D("0.192"), [work("g", gpu="1")], SHEET)
    assert no_gpu[0].gpu_hours == 0 and no_gpu[0].gpu_cost == 0


def test_node_without_workloads_is_all_idle() -> None:
    rows = allocate(node(), D("0.192"), [], SHEET)
    assert len(rows) == 1
    assert rows[0].is_idle and rows[0].cost == D("0.192")


def test_invariant_holds_exactly_for_random_node_hours() -> None:
    rng = random.Random(1815)  # noqa: S311 - deterministic test data
    for _ in range(300):
        cost = D(rng.randint(1, 10**7)) / D(10**6)
        n = node(cpus=str(rng.choice([1, 2, 4, 8, 96])), ram_gib=str(rng.choice([1, 8, 384])),
                 gpus=str(rng.choice([0, 0, 1, 8])), running=str(rng.choice([1, 0.5, 0.25])))
        workloads = [work(f"p{i}", cpu_req=f"{rng.random() * 3:.4f}",
                          cpu_use=f"{rng.random() * 3:.4f}",
                          ram_req=f"{rng.random() * 64:.4f}", ram_use=f"{rng.random() * 64:.4f}",
                          running=rng.choice(["1", "0.5", "0.0166667"]),
                          gpu=rng.choice(["0", "1"]))
                     for i in range(rng.randint(0, 40))]
        rows = allocate(n, cost, workloads, SHEET)
        idle = rows[-1]
        assert sum(r.cost for r in rows) == cost
        assert min(idle.cpu_cost, idle.ram_cost, idle.gpu_cost) >= 0
        for resource in ("cpu_core_hours", "ram_byte_hours", "gpu_hours"):
            capacity = {"cpu_core_hours": n.cpus, "ram_byte_hours": n.ram_bytes,
                        "gpu_hours": n.gpus}[resource] * n.running
            with localcontext(prec=80):  # exact sums of 18-decimal byte-hours
                claimed = sum(getattr(r, resource) for r in rows[:-1])
            assert claimed <= capacity
