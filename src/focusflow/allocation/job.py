"""One allocation run: metrics + prices -> allocations -> one load (allocation layer).

Orchestration only. Node presence is read over the window and over every billing period that
overlaps it (a daily row is divided by the hours the node ran that day, not by the hours of
the window), then the window is processed a chunk of hours at a time, streamed: the sink's load
is opened first and pulls the rows of each hour as that hour is computed, so a run holds one
chunk's query answers and one hour's rows, never the window's. It is still ONE load (one
transaction or table version): source identity = endpoint + window, so re-running the same
window replaces its rows, and a query failing in a later chunk, a window with no nodes or a
node without billing rows under ``--require-billing`` is raised from inside the stream, which
makes the sink roll back: a failed run commits nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa

from focusflow import interrupts
from focusflow.allocation.billing import BillingIndex, ChargeGroup
from focusflow.allocation.matching import normalized_resource_id
from focusflow.allocation.metrics import HOUR, ClusterMetrics, HourData, Series
from focusflow.allocation.model import IDLE, ZERO, NodeHour, allocate
from focusflow.allocation.rows import SCHEMA, PricedNodeHour, to_batch
from focusflow.allocation.settings import AllocationSettings
from focusflow.errors import InputError, SourceError
from focusflow.sinks import LoadRequest, LoadResult, Sink

log = logging.getLogger(__name__)

HourProgress = Callable[[int, int], None]
"""Called as (hours done, hours in the window)."""

NodeKey = tuple[str, str, str]  # cluster, node, provider_id


@dataclass
class AllocationReport:
    """What a run computed and loaded."""

    source_id: str
    currency: str
    hours: int
    queries: int = 0
    load: LoadResult | None = None
    by_namespace: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    default_priced: dict[tuple[str, str], tuple[str, Decimal]] = field(default_factory=dict)
    unplaced: int = 0

    @property
    def total(self) -> Decimal:
        return sum(self.by_namespace.values(), ZERO)

    @property
    def idle(self) -> Decimal:
        return sum((v for (_, ns), v in self.by_namespace.items() if ns == IDLE), ZERO)


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_source_id(base_url: str, settings: AllocationSettings) -> str:
    return (f"k8s-allocation:{base_url}:{_stamp(settings.start_s)}/"
            f"{_stamp(settings.end_s)}")


class _Pricer:
    """Hourly node cost from the billing groups a node matched, else the price sheet."""

    def __init__(self, billing: BillingIndex | None, settings: AllocationSettings) -> None:
        self.billing = billing
        self.settings = settings
        self.matches: dict[NodeKey, list[ChargeGroup]] = {}

    def share_periods(self, presence: Series) -> None:
        """Count each billing group's node-hours within its period (the divisor of its cost)."""
        if self.billing is None:
            return
        for hour, nodes in presence.items():
            for (cluster, node, provider_id), running in nodes.items():
                for group in self._groups((cluster, node, provider_id)):
                    if group.covers(hour):
                        group.node_hours += running

    def _groups(self, key: NodeKey) -> list[ChargeGroup]:
        if key not in self.matches:
            _cluster, node, provider_id = key
            self.matches[key] = self.billing.match(provider_id, node) if self.billing else []
        return self.matches[key]

    def price(self, node: NodeHour) -> tuple[Decimal, str]:
        """(cost of this node-hour, "billing" | "default")."""
        groups = [g for g in self._groups((node.cluster, node.node, node.provider_id))
                  if g.covers(node.hour) and g.node_hours > 0]
        if groups:
            return sum((g.cost * node.running / g.node_hours for g in groups), ZERO), "billing"
        hourly = self.settings.prices.node_hourly(node.cpus, node.ram_bytes, node.gpus)
        return hourly * node.running, "default"


def _currency(billing: BillingIndex | None, settings: AllocationSettings) -> str:
    currencies = billing.currencies if billing else []
    if len(currencies) > 1:
        raise InputError(f"billing rows mix currencies {', '.join(currencies)}; expected one "
                         "BillingCurrency per allocation run (filter the billing source)")
    return currencies[0] if currencies else settings.currency


def _presence_span(billing: BillingIndex | None, settings: AllocationSettings
                   ) -> tuple[int, int]:
    start, end = settings.start_s, settings.end_s
    span = billing.span() if billing else None
    if span:
        start, end = min(start, span[0] - span[0] % HOUR), max(end, -(-span[1] // HOUR) * HOUR)
    return start, end


def run_allocation(settings: AllocationSettings, metrics: ClusterMetrics,
                   billing: BillingIndex | None, sink: Sink, *, base_url: str,
                   progress: HourProgress | None = None) -> AllocationReport:
    """Allocate the window, load the rows, report totals. Raises ``FocusflowError``s."""
    metrics.client.check()
    if billing is not None and not billing.groups:
        raise InputError(
            f"no Usage rows with a ResourceId whose charge period overlaps "
            f"{_stamp(settings.start_s)} .. {_stamp(settings.end_s)}; expected the billing "
            "rows of the cluster's nodes for those days")
    source_id = settings.source_id or default_source_id(base_url, settings)
    report = AllocationReport(source_id, _currency(billing, settings),
                              (settings.end_s - settings.start_s) // HOUR)
    pricer = _Pricer(billing, settings)
    presence = metrics.node_presence(*_presence_span(billing, settings))
    pricer.share_periods(presence)
    batches = _batches(settings, metrics, presence, pricer=pricer, report=report,
                       base_url=base_url, progress=progress)
    try:
        report.load = sink.load(LoadRequest(table=settings.table, source_id=source_id,
                                            schema=SCHEMA, batches=batches))
    finally:
        batches.close()  # a sink that stopped pulling early: end the stream's queries now
        report.queries = metrics.queries
    return report


def _batches(settings: AllocationSettings, metrics: ClusterMetrics, presence: Series, *,
             pricer: _Pricer, report: AllocationReport, base_url: str,
             progress: HourProgress | None) -> Generator[pa.RecordBatch]:
    """The rows of each hour, as the sink pulls them; raises (so the load commits nothing)
    when the window had no node or a node lacks the billing rows ``--require-billing`` wants."""
    rows = done = 0
    spans = [(chunk, min(chunk + settings.chunk_hours * HOUR, settings.end_s))
             for chunk in range(settings.start_s, settings.end_s, settings.chunk_hours * HOUR)]
    # One chunk ahead: Prometheus answers the next chunk (one query in flight at a time, as
    # before) while this one is decoded and modelled here; what is held at most is this
    # chunk's decoded answers and the next chunk's raw ones.
    with ThreadPoolExecutor(1, thread_name_prefix="allocation-queries") as ahead:
        try:
            pending = ahead.submit(metrics.ask_chunk, *spans[0])
            for index, (start, end) in enumerate(spans):
                raw = pending.result()
                if index + 1 < len(spans):
                    pending = ahead.submit(metrics.ask_chunk, *spans[index + 1])
                answers = metrics.answers(raw)
                del raw
                for _hour, data in metrics.hours(start, end, presence, answers):
                    # A stop request seen while the queries ran (the sink's driver holds the
                    # signal while it pulls this stream): raised here, between hours.
                    interrupts.check()
                    batch = to_batch(_price_hour(data, pricer, report, settings), settings.by)
                    rows += batch.num_rows
                    done += 1
                    if progress:
                        progress(done, report.hours)
                    yield batch
                del answers
        finally:
            pending.cancel()  # a failed or stopped run: no further chunk is queried
    if not rows:
        raise SourceError(
            f"{base_url}: no kube_node_info series between {_stamp(settings.start_s)} and "
            f"{_stamp(settings.end_s)}; expected kube-state-metrics history for the window")
    _require_billing(report, settings)


def _price_hour(data: HourData, pricer: _Pricer, report: AllocationReport,
                settings: AllocationSettings) -> list[PricedNodeHour]:
    priced = []
    report.unplaced += data.unplaced
    for key, node in sorted(data.nodes.items()):
        cost, source = pricer.price(node)
        rows = allocate(node, cost, data.workloads.get(key, []), settings.prices)
        priced.append(PricedNodeHour(node, normalized_resource_id(node.provider_id, node.node),
                                     sum((r.cost for r in rows), ZERO), report.currency,
                                     source, rows))
        for row in rows:
            slot = (node.cluster, row.namespace)
            report.by_namespace[slot] = report.by_namespace.get(slot, ZERO) + row.cost
        if source == "default":
            pid, hours = report.default_priced.get(key, (node.provider_id, ZERO))
            report.default_priced[key] = (pid, hours + node.running)
    return priced


def _require_billing(report: AllocationReport, settings: AllocationSettings) -> None:
    if settings.require_billing and report.default_priced:
        names = ", ".join(f"{c}/{n} (provider_id {pid or '-'})"
                          for (c, n), (pid, _) in sorted(report.default_priced.items()))
        raise InputError(f"no billing rows for node(s) {names} in the window; expected a "
                         "Usage row whose ResourceId matches each node's provider id "
                         "(drop --require-billing to price them from the price sheet)")


