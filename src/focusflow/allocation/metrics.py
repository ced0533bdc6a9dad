"""Kubernetes metrics per hour from a Prometheus-compatible API (allocation layer).

Every query is a ``query_range`` at a one-hour step evaluated one second before each hour's
end, so a ``[1h]`` range covers exactly the samples of ``[hour, hour + 1h)``. Running time comes
from subqueries at the configured resolution (``[1h:1m]`` counts the minutes a series existed);
CPU usage is ``rate(container_cpu_usage_seconds_total[1h])`` (core-hours used in the hour),
memory usage is the average ``container_memory_working_set_bytes``, requests are the average
``kube_pod_container_resource_requests``; capacity is ``kube_node_status_capacity`` (KSM v2
``resource`` label). The client is the export job's (same auth modes, retries and splitting).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import msgspec

from focusflow.allocation.model import ONE, ZERO, NodeHour
from focusflow.k8s_export import PrometheusClient

log = logging.getLogger(__name__)

HOUR = 3600
_GPU = ("nvidia_com_gpu", "nvidia.com/gpu")
_CONTAINER = 'container!="", container!="POD"'

NODE_Q = "count_over_time((max by ({c}, node, provider_id) (kube_node_info))[1h:{r}s])"
# A subquery at the resolution, like NODE_Q: a node seen during the first minutes of an hour
# through Prometheus's lookback (its series stopped just before the boundary) has the capacity
# it was last seen with for exactly those minutes.
CAPACITY_Q = ("max_over_time((max by ({c}, node, resource) (kube_node_status_capacity"
              '{{resource=~"cpu|memory|nvidia_com_gpu|nvidia.com/gpu"}}))[1h:{r}s])')
RUNNING_Q = ("count_over_time((max by ({c}, namespace, pod, container) "
             "(kube_pod_container_status_running == 1))[1h:{r}s])")
REQUEST_Q = ("max by ({c}, namespace, pod, container, resource) (avg_over_time("
             'kube_pod_container_resource_requests{{resource=~"cpu|memory|nvidia_com_gpu|'
             'nvidia.com/gpu"}}[1h]))')
CPU_Q = ("sum by ({c}, namespace, pod, container) (rate(container_cpu_usage_seconds_total"
         "{{" + _CONTAINER + "}}[1h]))")
MEMORY_Q = ("sum by ({c}, namespace, pod, container) (avg_over_time("
            "container_memory_working_set_bytes{{" + _CONTAINER + "}}[1h]))")
POD_NODE_Q = ('max by ({c}, namespace, pod, node) (max_over_time(kube_pod_info{{node!=""}}'
              "[1h]))")
OWNER_Q = ("max by ({c}, namespace, pod, owner_kind, owner_name) (max_over_time("
           'kube_pod_owner{{owner_is_controller="true"}}[1h]))')
REPLICASET_Q = ("max by ({c}, namespace, replicaset, owner_kind, owner_name) "
                "(max_over_time(kube_replicaset_owner[1h]))")

# The queries of every chunk, in the order a run issues them (NODE_Q covers the whole window);
# ``placement`` reads all but the capacities, which stay here with the node-hours.
_CHUNK_QUERIES: tuple[tuple[str, str], ...] = (
    ("capacity", CAPACITY_Q), ("running", RUNNING_Q), ("requests", REQUEST_Q), ("cpu", CPU_Q),
    ("memory", MEMORY_Q), ("pod_node", POD_NODE_Q), ("owner", OWNER_Q),
    ("replicaset", REPLICASET_Q),
)
CHUNK_TEMPLATES = tuple(template for _, template in _CHUNK_QUERIES)
NAMES = tuple(name for name, _ in _CHUNK_QUERIES)
CONCURRENCY = 1  # range queries of a chunk in flight at once

Series = dict[int, dict[tuple[str, ...], Decimal]]  # hour -> label values -> value


class _RangeSeries(msgspec.Struct):
    """One series of a ``matrix`` answer; values stay text until ``Decimal`` reads them."""

    metric: dict[str, str] = {}
    values: list[tuple[float, str]] = []


_MATRIX = msgspec.json.Decoder(list[_RangeSeries])


HOUR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # ``iso_hour``'s, which ``windows`` reads back


def iso_hour(seconds: int) -> str:
    """An hour's start as people read it: ``2026-03-10T02:00:00Z``."""
    return datetime.fromtimestamp(seconds, UTC).strftime(HOUR_FORMAT)


class ClusterMetrics:
    """Hourly queries against one endpoint; ``cluster_label`` tells clusters apart."""

    def __init__(self, client: PrometheusClient, *, resolution: int, cluster_label: str,
                 default_cluster: str) -> None:
        self.client = client
        self.resolution = resolution
        self.points = Decimal(HOUR // resolution)
        self.label = cluster_label
        self.default_cluster = default_cluster
        self.queries = 0
        # (cluster, node) -> the capacity it had in the latest hour that showed one
        self.last_capacity: dict[tuple[str, str], dict[str, Decimal]] = {}
        self.dropped: list[tuple[str, str, int]] = []  # node-hours with no capacity ever seen

    def _range(self, template: str, start: int, end: int, labels: tuple[str, ...]) -> Series:
        """``template`` per hour of [start, end) keyed by hour start and ``labels``."""
        return self._decode(self._ask(template, start, end), labels)

    def _ask(self, template: str, start: int, end: int) -> bytes:
        """The raw ``data.result`` of ``template`` over [start, end) at a 1 h step."""
        query = template.format(c=self.label, r=self.resolution)
        self.queries += 1
        return self.client.query_range(query, start + HOUR - 1, end - 1, HOUR).raw_result

    def _decode(self, raw: bytes, labels: tuple[str, ...]) -> Series:
        """Values by hour start and ``labels``."""
        out: Series = defaultdict(dict)
        # Capacities and presence counts repeat across series and hours: one
        # Decimal per distinct text (Decimals are immutable, so sharing them is safe).
        numbers: dict[str, Decimal] = {}
        # Typed decoding of the raw answer: no dict per series or list per sample.
        for series in _MATRIX.decode(raw):
            key = tuple(self._label(series.metric, name) for name in labels)
            for stamp, value in series.values:
                number = numbers.get(value)
                if number is None:
                    number = numbers[value] = Decimal(value)
                if number.is_finite():
                    out[int(stamp) - HOUR + 1][key] = number
        return out

    def _label(self, metric: dict[str, str], name: str) -> str:
        if name == "cluster":
            return metric.get(self.label) or self.default_cluster
        return metric.get(name, "")

    def node_presence(self, start: int, end: int) -> Series:
        """Share of each hour each (cluster, node, provider_id) existed, from kube_node_info."""
        counts = self._range(NODE_Q, start, end, ("cluster", "node", "provider_id"))
        return {hour: {key: min(ONE, value / self.points) for key, value in nodes.items()}
                for hour, nodes in counts.items()}

    def ask(self, name: str, start: int, end: int) -> bytes:
        """The raw answer of the chunk query ``name`` (one of ``NAMES``) over [start, end).
        Only HTTP: a run asks in a second thread, one query after another, while it reads
        the answers that arrived and models the chunk before."""
        return self._ask(CHUNK_TEMPLATES[NAMES.index(name)], start, end)

    def node_hours(self, start: int, end: int, capacity: bytes, presence: Series
                   ) -> list[NodeHour]:
        """The node-hours of [start, end) with their capacity (the ``capacity`` answer), by
        hour, then cluster and node."""
        capacities = self._decode(capacity, ("cluster", "node", "resource"))
        nodes: list[NodeHour] = []
        for hour in range(start, end, HOUR):
            found = self._nodes(hour, presence.get(hour, {}), capacities.get(hour, {}))
            nodes.extend(node for _, node in sorted(found.items()))
        return nodes

    def _nodes(self, hour: int, present: dict[tuple[str, ...], Decimal],
               capacities: dict[tuple[str, ...], Decimal]) -> dict[tuple[str, str], NodeHour]:
        nodes: dict[tuple[str, str], NodeHour] = {}
        capacity: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
        for (cluster, node, resource), value in capacities.items():
            capacity[(cluster, node)]["gpu" if resource in _GPU else resource] = value
        for key, cap in capacity.items():
            if cap.get("cpu") or cap.get("memory"):
                self.last_capacity[key] = cap
        for (cluster, node, provider_id), running in present.items():
            if running <= 0:
                continue
            cap = capacity.get((cluster, node), {})
            if not cap.get("cpu") and not cap.get("memory"):
                # A node whose capacity series ended before its presence did: the capacity it
                # was last seen with, else (never seen in this run) the node-hour is dropped.
                cap = self.last_capacity.get((cluster, node), {})
                if not cap:
                    log.warning(
                        "node %s/%s: no kube_node_status_capacity{resource=\"cpu\"|\"memory\"}"
                        " in the hour starting %s or before it in the window; its node-hour is "
                        "not allocated (expected kube-state-metrics v2 node capacity series)",
                        cluster, node, iso_hour(hour))
                    self.dropped.append((cluster, node, hour))
                    continue
            nodes[(cluster, node)] = NodeHour(
                cluster, node, provider_id, hour, running, cap.get("cpu", ZERO),
                cap.get("memory", ZERO), cap.get("gpu", ZERO))
        return nodes
