"""One allocation run: metrics + prices -> allocations -> one load (allocation layer).

Orchestration only. Node presence is read over the window and over every billing period that
overlaps it (``BillingIndex.presence_span``), then the window is processed a chunk of hours at
a time, streamed: the sink's load is opened first and pulls each chunk's rows an hour at a
time, so a run holds one chunk's answers (read into ``placement``'s DuckDB) and the rows of
two, never the window's (the query order is ``ahead``'s, see ``_batches``). It is still ONE
load (one transaction or table version): source identity = endpoint + window, so re-running
the same window replaces its rows, and a query failing in a later chunk, a window with no
nodes or a node without billing rows under ``--require-billing`` is raised from inside the
stream, which makes the sink roll back: a failed run commits nothing.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from focusflow import interrupts
from focusflow.allocation.ahead import INPUTS, OWNERS, Ahead
from focusflow.allocation.billing import BillingIndex, ChargeGroup
from focusflow.allocation.matching import normalized_resource_id
from focusflow.allocation.metrics import HOUR, ClusterMetrics, Series, iso_hour
from focusflow.allocation.model import IDLE, ONE, ZERO, Containers, NodeHour, allocate_columns
from focusflow.allocation.placement import POD_KEYS, Placement
from focusflow.allocation.rows import SCHEMA, ChunkRows, GroupBy, PricedNodeHour, with_controllers
from focusflow.allocation.settings import AllocationSettings
from focusflow.allocation.windows import window_source_id
from focusflow.errors import InputError, SourceError
from focusflow.sinks import LoadRequest, LoadResult, Sink

log = logging.getLogger(__name__)

HourProgress = Callable[[int, int], None]
"""Called as (hours done, hours in the window)."""

NodeKey = tuple[str, str, str]  # cluster, node, provider_id
QUERY_SWITCH_SECONDS = 0.0005  # the GIL switch interval while a run streams (see run_allocation)


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
    empty_hours: list[int] = field(default_factory=list)  # hours with no node to allocate

    @property
    def total(self) -> Decimal:
        return sum(self.by_namespace.values(), ZERO)

    @property
    def idle(self) -> Decimal:
        return sum((v for (_, ns), v in self.by_namespace.items() if ns == IDLE), ZERO)


def default_source_id(base_url: str, settings: AllocationSettings) -> str:
    return window_source_id(base_url, settings.start_s, settings.end_s)


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


def run_allocation(settings: AllocationSettings, metrics: ClusterMetrics,
                   billing: BillingIndex | None, sink: Sink, *, base_url: str,
                   progress: HourProgress | None = None,
                   ahead: Ahead | None = None) -> AllocationReport:
    """Allocate the window, load the rows, report totals. Raises ``FocusflowError``s.

    ``ahead``: the run's query queue, opened early by the caller (which closes it) over the
    node presence ``BillingIndex.presence_span`` gives; by default the run opens its own."""
    span = billing.presence_span(settings.start_s, settings.end_s) if billing else None
    if ahead is None:
        with Ahead(metrics, settings, span) as own:
            return run_allocation(settings, metrics, billing, sink, base_url=base_url,
                                  progress=progress, ahead=own)
    source_id = settings.source_id or default_source_id(base_url, settings)
    report = AllocationReport(source_id, _currency(billing, settings),
                              (settings.end_s - settings.start_s) // HOUR)
    pricer = _Pricer(billing, settings)
    presence = ahead.presence.result()
    pricer.share_periods(presence)
    batches = _batches(settings, metrics, presence, ahead, pricer=pricer, report=report,
                       base_url=base_url, progress=progress)
    # The query thread reads each answer in 64 KB pieces, each needing the GIL, while this
    # thread models: at Python's default 5 ms switch interval Prometheus's answers queue up
    # behind the model (a 2k-pod week 1.7 s slower). 0.5 ms lets the reads through.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, QUERY_SWITCH_SECONDS))
    try:
        report.load = sink.load(LoadRequest(table=settings.table, source_id=source_id,
                                            schema=SCHEMA, batches=batches))
    finally:
        sys.setswitchinterval(interval)
        batches.close()  # a sink that stopped pulling early: end the stream's queries now
        report.queries = metrics.queries
    return report


@dataclass
class _Modelled:
    """A chunk placed, modelled and (unless its rows group by controller) shaped, waiting for
    its owners' answers to name each row's controller."""

    index: int
    start: int
    end: int
    placed: pa.Table | None  # None by namespace: its rows name no controller
    charged: ChunkRows | None  # by controller: shaped once the controllers are known
    shaped: pa.Table | None  # the other granularities: shaped now (a pod has one controller
    # an hour, so it never splits a key)

    @classmethod
    def of(cls, index: int, span: tuple[int, int], placed: pa.Table, charged: ChunkRows, *,
           by: GroupBy, con: duckdb.DuckDBPyConnection) -> _Modelled:
        if by == "controller":
            return cls(index, *span, placed, charged, None)
        shaped = charged.table(con, placed, by)
        # Only what names the controllers is kept while the chunk waits (by namespace, none).
        return cls(index, *span, None if by == "namespace" else placed.select(list(POD_KEYS)),
                   None, shaped)

    def rows(self, placement: Placement, by: GroupBy) -> pa.Table:
        """The chunk's FOCUS rows (``owner`` and ``replicaset`` read)."""
        if self.placed is None and self.shaped is not None:
            return self.shaped.drop_columns(["first"])
        if self.placed is not None and self.shaped is not None:
            return with_controllers(self.shaped, placement.controllers(self.placed))
        if self.placed is not None and self.charged is not None:
            return self.charged.table(placement.con, placement.controllers(self.placed), by)
        raise ValueError(f"chunk {self.index}: its rows were taken already")


def _batches(settings: AllocationSettings, metrics: ClusterMetrics, presence: Series,
             ahead: Ahead, *, pricer: _Pricer, report: AllocationReport, base_url: str,
             progress: HourProgress | None) -> Generator[pa.RecordBatch]:
    """The rows of each hour, as the sink pulls them; raises (so the load commits nothing)
    when the window had no node or a node lacks the billing rows ``--require-billing`` wants."""
    # The queries of chunk k+1 that the model needs are asked before chunk k's owners, which
    # only name each row's controller: when the last chunk's answers are in, Prometheus still
    # has two chunks' owners to answer while the run models it. So chunk k's rows wait for
    # them (``_Modelled``) until chunk k+1 is modelled: what a run holds is two chunks' rows
    # and one chunk's tables and raw answers.
    rows = done = 0
    with Placement(cluster_label=metrics.label,
                   default_cluster=metrics.default_cluster) as placement:
        def modelled(index: int, start: int, end: int) -> _Modelled:
            raw = _answers(ahead, index, INPUTS)
            nodes = metrics.node_hours(start, end, next(raw), presence)
            covered = {node.hour for node in nodes}
            report.empty_hours += [h for h in range(start, end, HOUR) if h not in covered]
            for name in INPUTS[1:]:
                placement.read(name, next(raw))
            placed = placement.place(_node_table(nodes))
            charged = _price(nodes, placed, metrics=metrics, pricer=pricer, report=report,
                             settings=settings)
            return _Modelled.of(index, (start, end), placed, charged, by=settings.by,
                                con=placement.con)

        def finished(chunk: _Modelled) -> Iterator[pa.RecordBatch]:
            nonlocal done, rows
            for name, raw in zip(OWNERS, _answers(ahead, chunk.index, OWNERS), strict=True):
                placement.read(name, raw)
            table = chunk.rows(placement, settings.by)
            _count(table, placement.con, report)
            for batch in _by_hour(table, chunk.start, chunk.end):
                interrupts.check()
                yield from batch
                done += 1
                if progress:
                    progress(done, report.hours)
            rows += table.num_rows

        waiting: list[_Modelled] = []
        try:
            for index, (start, end) in enumerate(ahead.spans):
                if index + 1 < len(ahead.spans):
                    ahead.ask(index + 1, INPUTS)
                ahead.ask(index, OWNERS)
                waiting.append(modelled(index, start, end))
                if len(waiting) > 1:
                    yield from finished(waiting.pop(0))
            for chunk in waiting:
                yield from finished(chunk)
        finally:
            ahead.close()  # a failed or stopped run: no further query is asked
            report.unplaced = placement.unplaced
    if not rows:
        raise SourceError(
            f"{base_url}: no kube_node_info series between {iso_hour(settings.start_s)} and "
            f"{iso_hour(settings.end_s)}; expected kube-state-metrics history for the window")
    _require_billing(report, settings)


def _answers(ahead: Ahead, index: int, names: tuple[str, ...]) -> Iterator[bytes]:
    """The answers of ``names`` of chunk ``index``, in order, as each arrives."""
    for future in ahead.take(index, names).values():
        raw = future.result()
        # A stop request seen while the queries ran (the sink's driver holds the signal while
        # it pulls this stream): raised here, between answers and between hours.
        interrupts.check()
        yield raw


def _node_table(nodes: list[NodeHour]) -> pa.Table:
    """The node-hours as ``Placement.place`` joins them (``nh`` = index in ``nodes``)."""
    return pa.table({
        "nh": pa.array(range(len(nodes)), pa.int64()),
        "hour": pa.array([node.hour for node in nodes], pa.int64()),
        "cluster": pa.array([node.cluster for node in nodes], pa.string()),
        "node": pa.array([node.node for node in nodes], pa.string())})


def _count(table: pa.Table, con: duckdb.DuckDBPyConnection, report: AllocationReport) -> None:
    """Add the chunk's cost per (cluster, namespace) to the report's totals."""
    con.register("chunk", table)
    try:
        totals = con.sql('SELECT "x_Cluster", "x_Namespace", sum("BilledCost") '
                         "FROM chunk GROUP BY ALL").fetchall()
    finally:
        con.unregister("chunk")
    for cluster, namespace, cost in totals:
        slot = (cluster, namespace)
        report.by_namespace[slot] = report.by_namespace.get(slot, ZERO) + cost


def _price(nodes: list[NodeHour], placed: pa.Table, *, metrics: ClusterMetrics,
           pricer: _Pricer, report: AllocationReport, settings: AllocationSettings
           ) -> ChunkRows:
    """Each node-hour priced and its containers (``placed``, in node-hour order) modelled."""
    # Prometheus's values as Decimals, converted once per distinct text (they repeat:
    # requests, running counts); an absent value is 0.
    def decimals(name: str, convert: Callable[[str], Decimal] = Decimal) -> list[Decimal]:
        encoded = pc.dictionary_encode(placed.column(name).combine_chunks())
        texts = encoded.dictionary.to_pylist()
        lookup = [convert(text) for text in texts]
        lookup.append(ZERO)  # at index len(texts): the nulls
        return list(map(lookup.__getitem__,
                        encoded.indices.fill_null(len(texts)).to_pylist()))

    def share(samples: str) -> Decimal:  # of the hour the container ran
        return min(ONE, Decimal(samples) / metrics.points)

    columns = (decimals("running", share), *(decimals(name) for name in (
        "cpu_request", "cpu_usage", "ram_request", "ram_usage", "gpu_request")))
    rows = ChunkRows()
    first = 0
    for index, count in enumerate(_run_lengths(placed.column("nh"), len(nodes))):
        node = nodes[index]
        cost, source = pricer.price(node)
        containers = Containers(*(column[first:first + count] for column in columns))
        first += count
        rows.add(PricedNodeHour(
            node, normalized_resource_id(node.provider_id, node.node), report.currency, source,
            allocate_columns(node, cost, containers, settings.prices)))
        if source == "default":
            key = (node.cluster, node.node)
            pid, hours = report.default_priced.get(key, (node.provider_id, ZERO))
            report.default_priced[key] = (pid, hours + node.running)
    return rows


def _run_lengths(nh: pa.ChunkedArray, nodes: int) -> list[int]:
    """How many rows each node-hour index in [0, nodes) has in the sorted ``nh`` column."""
    lengths = [0] * nodes
    for index, count in zip(*_value_counts(nh), strict=True):
        lengths[index] = count
    return lengths


def _by_hour(table: pa.Table, start: int, end: int) -> Iterator[list[pa.RecordBatch]]:
    """Per hour of [start, end): its rows of ``table`` (ordered by hour) as one batch, or none."""
    offset = 0
    for length in _hour_lengths(table, start, end):
        yield [table.slice(offset, length).combine_chunks().to_batches()[0]] if length else []
        offset += length


def _hour_lengths(table: pa.Table, start: int, end: int) -> list[int]:
    """Rows per hour of [start, end) in ``table`` (ordered by hour)."""
    lengths = dict(zip(*_value_counts(table.column("ChargePeriodStart").cast(pa.int64())),
                       strict=True))
    return [lengths.get(hour * 1_000_000, 0) for hour in range(start, end, HOUR)]


def _value_counts(column: pa.ChunkedArray) -> tuple[list[int], list[int]]:
    """(values, counts) of ``column``."""
    counted = pc.value_counts(column)
    return counted.field("values").to_pylist(), counted.field("counts").to_pylist()


def _require_billing(report: AllocationReport, settings: AllocationSettings) -> None:
    if settings.require_billing and report.default_priced:
        names = ", ".join(f"{c}/{n} (provider_id {pid or '-'})"
                          for (c, n), (pid, _) in sorted(report.default_priced.items()))
        raise InputError(f"no billing rows for node(s) {names} in the window; expected a "
                         "Usage row whose ResourceId matches each node's provider id "
                         "(drop --require-billing to price them from the price sheet)")


