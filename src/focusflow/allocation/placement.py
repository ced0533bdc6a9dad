"""Where each container ran in each hour of a chunk, and with what (allocation layer).

The container- and pod-level range answers of a chunk (running minutes, requests, CPU and
memory usage, pod -> node, pod and ReplicaSet owners) are read by DuckDB straight from their
JSON and joined in SQL: one row per running container-hour on a node the run knows, with the
values still as Prometheus wrote them (text, so the model reads them exactly), in the order
the model takes them (node-hour, then namespace, pod, container). Containers on no known
node are counted and logged, as before, and not allocated.

It is the decoding and joining of ``metrics`` done in bulk: a run at 10k pods reads about
40 MB of JSON per 12 hours, which Python objects made the largest cost of a run. DuckDB runs
on one thread here, so Prometheus keeps the other core for the next chunk.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from types import TracebackType

import duckdb
import pyarrow as pa

from focusflow.allocation.metrics import HOUR

log = logging.getLogger(__name__)

_GPU = "('nvidia_com_gpu', 'nvidia.com/gpu')"
# The container-level answers, each read into a table of its labels, hour and value.
_TABLES: dict[str, tuple[str, ...]] = {
    "running": ("namespace", "pod", "container"),
    "requests": ("namespace", "pod", "container", "resource"),
    "cpu": ("namespace", "pod", "container"),
    "memory": ("namespace", "pod", "container"),
    "pod_node": ("namespace", "pod", "node"),
    "owner": ("namespace", "pod", "owner_kind", "owner_name"),
    "replicaset": ("namespace", "replicaset", "owner_kind", "owner_name"),
}
_KEYS_ONLY = frozenset({"pod_node", "owner", "replicaset"})

# One row per running container-hour; ``nh`` is the node-hour's index in the chunk (NULL:
# the container's node is unknown that hour). Where an answer has two series for one key
# (it should not: every query aggregates by its key) the larger value is taken.
_JOINED = f"""
CREATE OR REPLACE TEMP TABLE joined AS
WITH pod_node AS (
    SELECT hour, cluster, namespace, pod, max(node) AS node FROM pod_node GROUP BY ALL),
requests AS (
    SELECT hour, cluster, namespace, pod, container,
           max(value) FILTER (WHERE resource = 'cpu') AS cpu,
           max(value) FILTER (WHERE resource = 'memory') AS memory,
           max(value) FILTER (WHERE resource IN {_GPU}) AS gpu
    FROM requests GROUP BY ALL)
SELECT r.hour, r.cluster, p.node, nodes.nh, r.namespace, r.pod, r.container,
       max(r.value) AS running, max(q.cpu) AS cpu_request, max(c.value) AS cpu_usage,
       max(q.memory) AS ram_request, max(m.value) AS ram_usage, max(q.gpu) AS gpu_request
FROM (SELECT * FROM running WHERE value IS NOT NULL) r
LEFT JOIN pod_node p USING (hour, cluster, namespace, pod)
LEFT JOIN nodes ON nodes.hour = r.hour AND nodes.cluster = r.cluster AND nodes.node = p.node
LEFT JOIN requests q USING (hour, cluster, namespace, pod, container)
LEFT JOIN cpu c USING (hour, cluster, namespace, pod, container)
LEFT JOIN memory m USING (hour, cluster, namespace, pod, container)
GROUP BY ALL
"""
PLACED_COLUMNS = ("nh", "hour", "cluster", "namespace", "pod", "container", "running",
                  "cpu_request", "cpu_usage", "ram_request", "ram_usage", "gpu_request")
POD_KEYS = ("hour", "cluster", "namespace", "pod")  # what ``controllers`` reads of a placed row
# The controller of each placed row (``rn``: its position): the pod's controlling owner, a
# ReplicaSet reported as the Deployment that owns it, as OpenCost does.
_CONTROLLERS = """
WITH owner AS (
    SELECT hour, cluster, namespace, pod, max(owner_name) AS name,
           arg_max(owner_kind, owner_name) AS kind FROM owner GROUP BY ALL),
replicaset AS (
    SELECT hour, cluster, namespace, replicaset, max(owner_name) AS name,
           arg_max(owner_kind, owner_name) AS kind FROM replicaset GROUP BY ALL)
SELECT CASE WHEN o.kind = 'ReplicaSet' AND rs.kind IS NOT NULL THEN rs.name
            ELSE coalesce(o.name, '') END AS controller,
       CASE WHEN o.kind = 'ReplicaSet' AND rs.kind IS NOT NULL THEN rs.kind
            ELSE coalesce(o.kind, '') END AS controller_kind
FROM placed p
LEFT JOIN owner o USING (hour, cluster, namespace, pod)
LEFT JOIN replicaset rs ON rs.hour = p.hour AND rs.cluster = p.cluster
    AND rs.namespace = p.namespace AND rs.replicaset = o.name
ORDER BY p.rn
"""


class Placement:
    """A private in-memory DuckDB for one run: each chunk's answers in, placed rows out."""

    def __init__(self, *, cluster_label: str, default_cluster: str) -> None:
        self.cluster_label = cluster_label
        self.default_cluster = default_cluster
        self.unplaced = 0
        self._dir = tempfile.mkdtemp(prefix="focusflow-allocate-")
        self.con = duckdb.connect(config={"threads": 1, "memory_limit": "256MB",
                                          "temp_directory": self._dir})

    def __enter__(self) -> Placement:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def place(self, nodes: pa.Table) -> pa.Table:
        """The chunk's container-hours (``running``, ``requests``, ``cpu``, ``memory`` and
        ``pod_node`` read) on the node-hours of ``nodes`` (columns ``nh``, ``hour``,
        ``cluster``, ``node``): ``PLACED_COLUMNS``, in model order; logs the unplaced ones.
        The owners are not needed yet: their answers may still be on their way."""
        self.con.register("nodes", nodes)
        try:
            self.con.execute(_JOINED)
        finally:
            self.con.unregister("nodes")
        self._log_unplaced()
        placed = self.con.sql(
            f"SELECT {', '.join(PLACED_COLUMNS)} FROM joined WHERE nh IS NOT NULL "
            "ORDER BY nh, namespace, pod, container").to_arrow_table()
        self.con.execute("DROP TABLE joined")
        return placed

    def controllers(self, placed: pa.Table) -> pa.Table:
        """``placed`` (from ``place``, or its ``POD_KEYS`` alone) with each row's
        ``controller`` and ``controller_kind`` (``owner`` and ``replicaset`` read; empty when
        the pod has no controlling owner)."""
        keys = placed.select(list(POD_KEYS)).append_column(
            "rn", pa.array(range(placed.num_rows), pa.int64()))
        self.con.register("placed", keys)
        try:
            owners = self.con.sql(_CONTROLLERS).to_arrow_table()
        finally:
            self.con.unregister("placed")
        return placed.append_column("controller", owners.column("controller")).append_column(
            "controller_kind", owners.column("controller_kind"))

    def read(self, name: str, raw: bytes) -> None:
        """One answer (a ``data.result`` JSON array) of the chunk into table ``name`` (one of
        ``metrics.NAMES`` but ``capacity``), keyed by hour start, replacing the chunk before's."""
        path = os.path.join(self._dir, f"{name}.json")
        with open(path, "wb") as out:
            out.write(raw)
        try:
            labels = _TABLES[name]
            # The labels as a STRUCT, not a MAP: DuckDB then reads only those (3x faster).
            fields = ", ".join(f"{_quoted(label)} VARCHAR"
                               for label in dict.fromkeys((self.cluster_label, *labels)))
            columns = ", ".join(f"coalesce(metric.{_quoted(label)}, '') AS {label}"
                                for label in labels)
            # A sample that is not a number (Prometheus writes NaN, +Inf, -Inf) says nothing:
            # NULL, as if absent (a filter here would cost more than the whole read).
            value = "" if name in _KEYS_ONLY else \
                ", CASE WHEN v[2] IN ('NaN', '+Inf', '-Inf') THEN NULL ELSE v[2] END AS value"
            self.con.execute(
                f"CREATE OR REPLACE TABLE {name} AS SELECT coalesce(nullif("
                f"metric.{_quoted(self.cluster_label)}, ''), $default) AS cluster, {columns}, "
                f"floor(CAST(v[1] AS DOUBLE))::BIGINT - {HOUR - 1} AS hour{value} "
                f"FROM read_json('{path}', format = 'array', columns = {{metric: "
                f"'STRUCT({fields})', values: 'VARCHAR[][]'}}), unnest(values) AS u(v)",
                {"default": self.default_cluster})
        finally:
            os.unlink(path)

    def _log_unplaced(self) -> None:
        rows = self.con.execute(
            "SELECT cluster, namespace, pod, container, hour FROM joined WHERE nh IS NULL "
            "ORDER BY hour, cluster, namespace, pod, container").fetchall()
        self.unplaced += len(rows)
        for cluster, namespace, pod, container, hour in rows:
            log.warning("container %s/%s/%s/%s ran in hour %d on no known node; "
                        "not allocated", cluster, namespace, pod, container, hour)


def _quoted(label: str) -> str:
    """A label name as a DuckDB identifier (Prometheus label names are ``[a-zA-Z_]\\w*``;
    quoting keeps any other spelling from reaching the SQL as code)."""
    return '"' + label.replace('"', '""') + '"'
