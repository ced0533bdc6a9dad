"""``Placement``: range answers as Prometheus writes them (``data.result`` of a matrix) read
by DuckDB and joined into one row per running container-hour."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow as pa
import pytest

from focusflow.allocation.placement import Placement

HOUR = 1_761_948_000  # 2025-10-31T22:00:00Z
STAMP = HOUR + 3599  # the sample that stands for the hour (evaluated 1 s before its end)


def matrix(*series: tuple[dict[str, str], str]) -> bytes:
    return json.dumps([{"metric": metric, "values": [[STAMP, value]]}
                       for metric, value in series]).encode()


def ctr(pod: str, container: str = "app", **labels: str) -> dict[str, str]:
    return {"namespace": "shop", "pod": pod, "container": container, **labels}


ANSWERS = {
    # web-1 has no cluster label: the default cluster; batch-1 runs on an unknown node.
    "running": matrix((ctr("web-1"), "60"), (ctr("db-0", cluster="c1"), "30"),
                      (ctr("batch-1", cluster="c1"), "60")),
    "requests": matrix((ctr("web-1", resource="cpu"), "0.5"),
                       (ctr("web-1", resource="memory"), "1.073741824e+09"),
                       (ctr("db-0", cluster="c1", resource="nvidia.com/gpu"), "1")),
    "cpu": matrix((ctr("web-1"), "NaN"), (ctr("db-0", cluster="c1"), "0.25")),
    "memory": matrix((ctr("web-1"), "+Inf"), (ctr("db-0", cluster="c1"), "2048")),
    "pod_node": matrix(({"namespace": "shop", "pod": "web-1", "node": "n1"}, "1"),
                       ({"namespace": "shop", "pod": "db-0", "node": "n2", "cluster": "c1"},
                        "1"),
                       ({"namespace": "shop", "pod": "batch-1", "node": "gone",
                         "cluster": "c1"}, "1")),
    "owner": matrix(({"namespace": "shop", "pod": "web-1", "owner_kind": "ReplicaSet",
                      "owner_name": "web-7f9"}, "1"),
                    ({"namespace": "shop", "pod": "db-0", "owner_kind": "StatefulSet",
                      "owner_name": "db", "cluster": "c1"}, "1")),
    "replicaset": matrix(({"namespace": "shop", "replicaset": "web-7f9",
                           "owner_kind": "Deployment", "owner_name": "web"}, "1")),
}
NODES = pa.table({"nh": [0, 1], "hour": [HOUR, HOUR], "cluster": ["c0", "c1"],
                  "node": ["n1", "n2"]})


def test_answers_are_joined_per_container_hour(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="focusflow.allocation.placement")
    with Placement(cluster_label="cluster", default_cluster="c0") as placement:
        for name, raw in ANSWERS.items():
            placement.read(name, raw)
        placed = placement.controllers(placement.place(NODES)).to_pylist()
        folder = Path(placement._dir)
        assert not list(folder.iterdir())  # each answer's file is gone once read
        assert placement.unplaced == 1
    assert not folder.exists()
    assert placed == [
        # NaN and +Inf samples say nothing: as if absent (the model reads 0).
        {"nh": 0, "hour": HOUR, "cluster": "c0", "namespace": "shop", "pod": "web-1",
         "container": "app", "running": "60", "cpu_request": "0.5", "cpu_usage": None,
         "ram_request": "1.073741824e+09", "ram_usage": None, "gpu_request": None,
         "controller": "web", "controller_kind": "Deployment"},
        {"nh": 1, "hour": HOUR, "cluster": "c1", "namespace": "shop", "pod": "db-0",
         "container": "app", "running": "30", "cpu_request": None, "cpu_usage": "0.25",
         "ram_request": None, "ram_usage": "2048", "gpu_request": "1",
         "controller": "db", "controller_kind": "StatefulSet"}]
    assert "container c1/shop/batch-1/app ran in hour 1761948000 on no known node" in \
        caplog.text


def test_a_second_chunk_replaces_the_first(caplog: pytest.LogCaptureFixture) -> None:
    with Placement(cluster_label="cluster", default_cluster="c0") as placement:
        for name, raw in ANSWERS.items():
            placement.read(name, raw)
        placement.place(NODES)
        for name in ANSWERS:
            placement.read(name, b"[]")
        assert placement.place(NODES).num_rows == 0
