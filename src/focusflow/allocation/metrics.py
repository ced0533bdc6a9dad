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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import msgspec

from focusflow.allocation.model import ONE, ZERO, NodeHour, Workload
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

_CTR = ("cluster", "namespace", "pod", "container")
# The queries of every chunk, in the order a run issues them (NODE_Q covers the whole window):
# (name, template, labels, keys only: the value is not read).
_CHUNK_QUERIES: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("capacity", CAPACITY_Q, ("cluster", "node", "resource"), False),
    ("running", RUNNING_Q, _CTR, False),
    ("requests", REQUEST_Q, (*_CTR, "resource"), False),
    ("cpu", CPU_Q, _CTR, False),
    ("memory", MEMORY_Q, _CTR, False),
    ("pod_node", POD_NODE_Q, ("cluster", "namespace", "pod", "node"), True),
    ("owner", OWNER_Q, ("cluster", "namespace", "pod", "owner_kind", "owner_name"), True),
    ("replicaset", REPLICASET_Q, ("cluster", "namespace", "replicaset", "owner_kind",
                                  "owner_name"), True),
)
CHUNK_TEMPLATES = tuple(template for _, template, _, _ in _CHUNK_QUERIES)
CONCURRENCY = 1  # range queries of a chunk in flight at once

Series = dict[int, dict[tuple[str, ...], Decimal]]  # hour -> label values -> value


class _RangeSeries(msgspec.Struct):
    """One series of a ``matrix`` answer; values stay text until ``Decimal`` reads them."""

    metric: dict[str, str] = {}
    values: list[tuple[float, str]] = []


_MATRIX = msgspec.json.Decoder(list[_RangeSeries])


def iso_hour(seconds: int) -> str:
    """An hour's start as people read it: ``2026-03-10T02:00:00Z``."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class HourData:
    """What one hour needs: the nodes that ran and the containers on each."""

    nodes: dict[tuple[str, str], NodeHour] = field(default_factory=dict)
    workloads: dict[tuple[str, str], list[Workload]] = field(default_factory=dict)
    unplaced: int = 0  # running containers whose node is unknown (no kube_pod_info / node)


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

    def _decode(self, raw: bytes, labels: tuple[str, ...], *, keys_only: bool = False
                ) -> Series:
        """Values by hour start and ``labels`` (``keys_only``: the value is not read, every
        present series maps to 1)."""
        out: Series = defaultdict(dict)
        # Requests, capacities and running counts repeat across series and hours: one
        # Decimal per distinct text (Decimals are immutable, so sharing them is safe).
        numbers: dict[str, Decimal] = {}
        # Typed decoding of the raw answer: no dict per series or list per sample.
        for series in _MATRIX.decode(raw):
            key = tuple(self._label(series.metric, name) for name in labels)
            for stamp, value in series.values:
                number = ONE if keys_only else numbers.get(value)
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

    def ask_chunk(self, start: int, end: int) -> list[bytes]:
        """The raw answers of the chunk [start, end)'s eight range queries, asked one after
        another. Only HTTP: a run calls this for the next chunk in a second thread while it
        decodes and models the current one, so Prometheus is never kept waiting on Python."""
        return [self._ask(template, start, end) for _, template, _, _ in _CHUNK_QUERIES]

    def answers(self, raw: list[bytes]) -> dict[str, Series]:
        """The decoded answers of ``ask_chunk``."""
        return {name: self._decode(body, labels, keys_only=keys_only)
                for (name, _, labels, keys_only), body in zip(_CHUNK_QUERIES, raw, strict=True)}

    def hours(self, start: int, end: int, presence: Series,
              answers: dict[str, Series] | None = None) -> Iterator[tuple[int, HourData]]:
        """Nodes and containers of every hour in [start, end), in hour order, from the
        chunk's ``answers`` (queried now when not given). Each hour's values are dropped as it
        is yielded, so what stays is one chunk's answers at most."""
        raw = self.answers(self.ask_chunk(start, end)) if answers is None else answers
        for hour in range(start, end, HOUR):
            at = {name: series.pop(hour, {}) for name, series in raw.items()}
            yield hour, self._hour(hour, presence.get(hour, {}), at)

    def _hour(self, hour: int, present: dict[tuple[str, ...], Decimal],
              at: dict[str, dict[tuple[str, ...], Decimal]]) -> HourData:
        data = HourData()
        capacity: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
        for (cluster, node, resource), value in at["capacity"].items():
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
            data.nodes[(cluster, node)] = NodeHour(
                cluster, node, provider_id, hour, running, cap.get("cpu", ZERO),
                cap.get("memory", ZERO), cap.get("gpu", ZERO))
        self._place_workloads(hour, data, at)
        return data

    def _place_workloads(self, hour: int, data: HourData,
                         at: dict[str, dict[tuple[str, ...], Decimal]]) -> None:
        nodes = {(c, ns, pod): node for (c, ns, pod, node) in sorted(at["pod_node"])}
        owners = {(c, ns, pod): (kind, name) for (c, ns, pod, kind, name) in at["owner"]}
        rs_owner = {(c, ns, rs): (kind, name) for (c, ns, rs, kind, name) in at["replicaset"]}
        requests: dict[tuple[str, ...], dict[str, Decimal]] = defaultdict(dict)
        for (*ctr, resource), value in at["requests"].items():
            requests[tuple(ctr)]["gpu" if resource in _GPU else resource] = value
        shares: dict[Decimal, Decimal] = {}  # running count -> share of the hour
        for key, count in sorted(at["running"].items()):
            cluster, namespace, pod, container = key
            node = nodes.get((cluster, namespace, pod))
            if node is None or (cluster, node) not in data.nodes:
                data.unplaced += 1
                log.warning("container %s/%s/%s/%s ran in hour %d on no known node; "
                            "not allocated", cluster, namespace, pod, container, hour)
                continue
            kind, name = owners.get((cluster, namespace, pod), ("", ""))
            if kind == "ReplicaSet":  # report the Deployment that owns it, as OpenCost does
                kind, name = rs_owner.get((cluster, namespace, name), (kind, name))
            req = requests.get(key, {})
            if (share := shares.get(count)) is None:
                share = shares[count] = min(ONE, count / self.points)
            data.workloads.setdefault((cluster, node), []).append(Workload(
                namespace, pod, container, name, kind, share,
                req.get("cpu", ZERO), at["cpu"].get(key, ZERO), req.get("memory", ZERO),
                at["memory"].get(key, ZERO), req.get("gpu", ZERO)))
