"""The bulk path of ``allocate`` (answers read and joined by DuckDB, the model over columns,
rows summed in SQL) against a plain reading of the same answers, on the real
``ksm_prometheus`` fixture (two clusters, kube-state-metrics + cAdvisor history).

The oracle here asks Prometheus the run's own queries for one hour, decodes them with
``json``, joins them with dicts and prices each node-hour with ``model.allocate`` over
``Workload`` objects: the per-object model the docs describe. Every row the run loaded for that
hour must equal the oracle's, to the last of the 18 decimals, with the same controller.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from fixtures.k8s_export_support import job_env
from fixtures.prometheus import PrometheusServer
from focusflow.allocation import (
    ClusterMetrics,
    DefaultPrices,
    NodeHour,
    Workload,
    allocate,
    allocation_settings,
    prometheus_settings,
    run_allocation,
)
from focusflow.allocation import metrics as queries
from focusflow.k8s_export import PrometheusClient
from focusflow.sinks import open_sink

pytestmark = pytest.mark.integration

HOUR = int(datetime(2025, 10, 31, 23, tzinfo=UTC).timestamp())
RESOLUTION = 60
GPU = ("nvidia_com_gpu", "nvidia.com/gpu")
Key = tuple[str, ...]


def ask(url: str, template: str, labels: tuple[str, ...]) -> dict[Key, Decimal]:
    """The hour's value of each series of ``template``, keyed by ``labels``."""
    answer = httpx.post(f"{url}/api/v1/query_range", data={
        "query": template.format(c="cluster", r=RESOLUTION), "start": str(HOUR + 3599),
        "end": str(HOUR + 3599), "step": "3600"}).json()
    out = {}
    for series in answer["data"]["result"]:
        metric = series["metric"]
        key = tuple(metric.get("cluster") or "default" if name == "cluster" else
                    metric.get(name, "") for name in labels)
        for _, value in series["values"]:
            out[key] = Decimal(value)
    return out


def oracle(url: str) -> dict[Key, tuple[Any, ...]]:
    """(cluster, node, namespace, pod, container) -> (controller, kind, the six amounts)."""
    points = Decimal(3600 // RESOLUTION)
    ctr = ("cluster", "namespace", "pod", "container")
    present = ask(url, queries.NODE_Q, ("cluster", "node", "provider_id"))
    capacity: dict[Key, dict[str, Decimal]] = defaultdict(dict)
    for (cluster, node, resource), value in ask(url, queries.CAPACITY_Q,
                                                ("cluster", "node", "resource")).items():
        capacity[(cluster, node)]["gpu" if resource in GPU else resource] = value
    nodes = {(c, n): NodeHour(c, n, pid, HOUR, min(Decimal(1), count / points),
                              capacity[(c, n)].get("cpu", Decimal(0)),
                              capacity[(c, n)].get("memory", Decimal(0)),
                              capacity[(c, n)].get("gpu", Decimal(0)))
             for (c, n, pid), count in present.items()}
    on = {(c, ns, pod): node for (c, ns, pod, node)
          in ask(url, queries.POD_NODE_Q, ("cluster", "namespace", "pod", "node"))}
    owner = {(c, ns, pod): (kind, name) for (c, ns, pod, kind, name)
             in ask(url, queries.OWNER_Q, ("cluster", "namespace", "pod", "owner_kind",
                                           "owner_name"))}
    deployment = {(c, ns, rs): (kind, name) for (c, ns, rs, kind, name)
                  in ask(url, queries.REPLICASET_Q, ("cluster", "namespace", "replicaset",
                                                     "owner_kind", "owner_name"))}
    requests: dict[Key, dict[str, Decimal]] = defaultdict(dict)
    for (*key, resource), value in ask(url, queries.REQUEST_Q, (*ctr, "resource")).items():
        requests[tuple(key)]["gpu" if resource in GPU else resource] = value
    cpu, memory = ask(url, queries.CPU_Q, ctr), ask(url, queries.MEMORY_Q, ctr)
    workloads: dict[Key, list[Workload]] = defaultdict(list)
    for key, count in sorted(ask(url, queries.RUNNING_Q, ctr).items()):
        cluster, namespace, pod, container = key
        kind, name = owner.get((cluster, namespace, pod), ("", ""))
        if kind == "ReplicaSet":
            kind, name = deployment.get((cluster, namespace, name), (kind, name))
        req = requests.get(key, {})
        workloads[(cluster, on[(cluster, namespace, pod)])].append(Workload(
            namespace, pod, container, name, kind, min(Decimal(1), count / points),
            req.get("cpu", Decimal(0)), cpu.get(key, Decimal(0)),
            req.get("memory", Decimal(0)), memory.get(key, Decimal(0)),
            req.get("gpu", Decimal(0))))
    sheet = DefaultPrices()
    expected = {}
    for key, node in nodes.items():
        cost = sheet.node_hourly(node.cpus, node.ram_bytes, node.gpus) * node.running
        for row in allocate(node, cost, workloads.get(key, []), sheet):
            expected[(*key, row.namespace, row.pod, row.container)] = (
                row.controller, row.controller_kind, row.cpu_core_hours, row.ram_byte_hours,
                row.gpu_hours, row.cpu_cost, row.ram_cost, row.gpu_cost)
    return expected


def test_every_row_of_an_hour_equals_the_per_object_model_over_a_plain_reading(
        monkeypatch: pytest.MonkeyPatch, ksm_prometheus: PrometheusServer,
        tmp_path: Path) -> None:
    job_env(monkeypatch, MAX_ATTEMPTS="1")
    settings = allocation_settings(start=datetime(2025, 10, 31, 21, tzinfo=UTC),
                                   end=datetime(2025, 11, 1, 1, tzinfo=UTC), chunk_hours=3)
    endpoint = prometheus_settings(prometheus_url=ksm_prometheus.url)
    client = PrometheusClient(endpoint)
    sink = open_sink(f"duckdb:///{tmp_path / 'alloc.duckdb'}")
    try:
        metrics = ClusterMetrics(client, resolution=RESOLUTION, cluster_label="cluster",
                                 default_cluster="default")
        run_allocation(settings, metrics, None, sink, base_url=endpoint.base_url)
        loaded = sink.query("k8s_allocation", (
            'SELECT "x_Cluster", "x_Node", "x_Namespace", "x_Pod", "x_Container", '
            '"x_Controller", "x_ControllerKind", "x_CpuCoreHours", "x_RamByteHours", '
            '"x_GpuHours", "x_CpuCost", "x_RamCost", "x_GpuCost" FROM {table} '
            'WHERE "ChargePeriodStart" = ?'), [datetime.fromtimestamp(HOUR, UTC)]).to_pylist()
    finally:
        sink.close()
        client.close()
    got = {(r["x_Cluster"], r["x_Node"], r["x_Namespace"], r["x_Pod"] or "",
            r["x_Container"] or ""): (r["x_Controller"] or "", r["x_ControllerKind"] or "",
                                      r["x_CpuCoreHours"], r["x_RamByteHours"], r["x_GpuHours"],
                                      r["x_CpuCost"], r["x_RamCost"], r["x_GpuCost"])
           for r in loaded}
    expected = oracle(ksm_prometheus.url)
    idle = [key for key in expected if key[2] == "__idle__"]
    assert len(expected) - len(idle) >= 10 and len({key[0] for key in idle}) == 2
    assert got == expected


# Per --by: the columns that make a row's key (with the hour, cluster and node).
_KEYS = {"pod": ("x_Namespace", "x_Pod", "x_Controller", "x_ControllerKind"),
         "controller": ("x_Namespace", "x_Controller", "x_ControllerKind"),
         "namespace": ("x_Namespace",)}
_SUMMED = ("BilledCost", "EffectiveCost", "x_CpuCoreHours", "x_RamByteHours", "x_GpuHours",
           "x_CpuCost", "x_RamCost", "x_GpuCost")


@pytest.mark.parametrize("by", list(_KEYS))
def test_coarser_rows_are_the_container_rows_summed_with_their_controllers(
        monkeypatch: pytest.MonkeyPatch, ksm_prometheus: PrometheusServer, tmp_path: Path,
        by: str) -> None:
    """Rows by pod and by namespace are shaped before the owners' answers arrive (the
    controllers are added after), rows by controller after: each equals the container rows
    (checked against the oracle above) summed per its key, controllers included."""
    job_env(monkeypatch, MAX_ATTEMPTS="1")
    endpoint = prometheus_settings(prometheus_url=ksm_prometheus.url)
    client = PrometheusClient(endpoint)
    try:
        for name, granularity in (("container", "container"), ("coarse", by)):
            settings = allocation_settings(start=datetime(2025, 10, 31, 21, tzinfo=UTC),
                                           end=datetime(2025, 11, 1, 1, tzinfo=UTC),
                                           chunk_hours=3, by=granularity)
            sink = open_sink(f"duckdb:///{tmp_path / f'{name}.duckdb'}")
            try:
                run_allocation(settings, ClusterMetrics(
                    client, resolution=RESOLUTION, cluster_label="cluster",
                    default_cluster="default"), None, sink, base_url=endpoint.base_url)
            finally:
                sink.close()
    finally:
        client.close()
    keys = ", ".join(f'"{c}"' for c in ("ChargePeriodStart", "x_Cluster", "x_Node",
                                        *_KEYS[by]))
    sums = ", ".join(f'sum("{c}") AS "{c}"' for c in _SUMMED)
    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / 'container.duckdb'}' AS fine (READ_ONLY)")
    con.execute(f"ATTACH '{tmp_path / 'coarse.duckdb'}' AS coarse (READ_ONLY)")
    expected = f"SELECT {keys}, {sums} FROM fine.k8s_allocation GROUP BY ALL"
    summed = ", ".join(f'"{c}"' for c in _SUMMED)
    got = f"SELECT {keys}, {summed} FROM coarse.k8s_allocation"
    assert con.execute(f"SELECT count(*) FROM ({got})").fetchone() == \
        con.execute(f"SELECT count(*) FROM ({expected})").fetchone()
    assert con.execute(f"({got}) EXCEPT ALL ({expected})").fetchall() == []
    assert con.execute(f"({expected}) EXCEPT ALL ({got})").fetchall() == []
    for db in ("fine", "coarse"):  # no controller is NULL, never an empty text (FOCUS nulls)
        blank = con.execute(f'SELECT count(*) FILTER (WHERE "x_Controller" = \'\' OR '
                            f'"x_ControllerKind" = \'\'), count(*) FILTER (WHERE "x_Namespace" '
                            f'= \'__idle__\' AND "x_Controller" IS NULL) '
                            f"FROM {db}.k8s_allocation").fetchone()
        assert blank is not None and blank[0] == 0 and blank[1] > 0, (db, blank)
    named = con.execute(
        'SELECT count(DISTINCT "x_Controller") FROM coarse.k8s_allocation').fetchone()
    assert named is not None
    assert named[0] == 0 if by == "namespace" else named[0] >= 2
