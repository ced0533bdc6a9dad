"""A whole run against a real Prometheus (promtool-backfilled KSM/cAdvisor history) into moto S3:
exact key layout across a month boundary, file content equal to direct PromQL, state, resume,
cluster filtering and retention."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.k8s_export_support import ROOT, direct_range, document, s3_objects, settings
from fixtures.prometheus import PrometheusServer
from focusflow.k8s_export import (
    CATALOGUE,
    DEFAULT_METRICS,
    object_key,
    read_state,
    run_export,
)
from focusflow.k8s_export.state import ExportState, write_state
from focusflow.k8s_export.storage import open_store

pytestmark = pytest.mark.integration

OCT_31_23H = 1761951600  # 2025-10-31T23:00:00Z, last hour of October
NOV_1 = 1761955200       # 2025-11-01T00:00:00Z


def test_full_catalogue_run_layout_content_and_state(
        ksm_prometheus: PrometheusServer, s3_bucket: str, s3_client: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    job = settings(monkeypatch, CLUSTER_NAME="prod-1", S3_BUCKET=s3_bucket,
                   PROMETHEUS_URL=ksm_prometheus.url, CLUSTER_LABEL="cluster",
                   BACKFILL_DAYS="1", SAFETY_LAG_SECONDS="3600")
    store = open_store(job.s3_bucket, endpoint_url=job.aws_endpoint_url)
    # Start near the month end: a state saying 2025-10-31T21:00Z is done.
    write_state(store, ROOT, ExportState(cluster="prod-1", last_completed_window_start=OCT_31_23H
                                         - 2 * 3600, time_frame=3600, metrics=[]))

    report = run_export(job, now=NOV_1 + 2 * 3600 + 1200)

    # Windows 22:00Z, 23:00Z, 00:00Z: at 02:20Z the last window that ended at least the
    # safety lag (1 h) ago is 00:00-01:00.
    starts = [OCT_31_23H - 3600, OCT_31_23H, NOV_1]
    assert [w.start for w in report.windows] == starts
    objects = s3_objects(s3_client, s3_bucket)
    # The default set: focusflow's catalogue without the opt-in Finout-only names.
    expected = {object_key(ROOT, start, name) for start in starts for name in DEFAULT_METRICS}
    assert set(objects) == expected | {f"{ROOT}/_state.json"}
    # The month boundary, spelled out: October's last hour is filed under November's start.
    assert (f"{ROOT}/end=20251101/day=31/metric=cpu_requests/1761951600_cpu_requests.json.gz"
            in objects)
    assert (f"{ROOT}/end=20251201/day=1/metric=cpu_requests/1761955200_cpu_requests.json.gz"
            in objects)

    for key, body in objects.items():
        if key.endswith("_state.json"):
            continue
        doc = document(body)
        start = int(key.rsplit("/", 1)[1].split("_", 1)[0])
        assert (doc["cluster"], doc["start"], doc["end"], doc["step"]) == (
            "prod-1", start, start + 3600 - 60, 60)
        assert doc["query"] == CATALOGUE[doc["metric"]].promql("cluster", "prod-1")
        assert doc["result"] == direct_range(ksm_prometheus.url, doc["query"], doc["start"],
                                             doc["end"], doc["step"]), key
        for series in doc["result"]:
            assert series["metric"].get("cluster", "prod-1") == "prod-1"

    state = read_state(store, ROOT)
    assert state is not None
    assert state.last_completed_window_start == starts[-1]
    assert state.metrics == list(DEFAULT_METRICS)

    # Sanity of the synthetic data: the Pending pod has no requests, running pods have 60
    # points per hour, the late pod appears only from 00:30.
    requests = document(objects[object_key(ROOT, NOV_1, "cpu_requests")])["result"]
    pods = {s["metric"]["pod"] for s in requests}
    assert "shop-1" not in pods
    assert {len(s["values"]) for s in requests if s["metric"]["pod"] != "ml-5"} == {60}
    assert len(next(s for s in requests if s["metric"]["pod"] == "ml-5")["values"]) == 30


def test_rerun_is_a_no_op_then_continues(ksm_prometheus: PrometheusServer, s3_bucket: str,
                                        s3_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job = settings(monkeypatch, CLUSTER_NAME="prod-1", S3_BUCKET=s3_bucket,
                   PROMETHEUS_URL=ksm_prometheus.url, CLUSTER_LABEL="cluster",
                   METRICS="node_capacity,memory_usage", TIME_FRAME="86400", BACKFILL_DAYS="1")
    first = run_export(job, now=NOV_1 + 2 * 3600)
    assert [w.start for w in first.windows] == [NOV_1 - 86400]
    before = s3_objects(s3_client, s3_bucket)
    again = run_export(job, now=NOV_1 + 2 * 3600)
    assert again.windows == []
    assert s3_objects(s3_client, s3_bucket) == before
    later = run_export(job, now=NOV_1 + 86400 + 2 * 3600)
    assert [w.start for w in later.windows] == [NOV_1]
    assert f"{ROOT}/end=20251201/day=1/metric=memory_usage/{NOV_1}_memory_usage.json.gz" in (
        s3_objects(s3_client, s3_bucket))


def test_without_cluster_label_a_per_cluster_prometheus_is_taken_whole(
        ksm_prometheus: PrometheusServer, s3_bucket: str, s3_client: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    job = settings(monkeypatch, CLUSTER_NAME="prod-1", S3_BUCKET=s3_bucket,
                   PROMETHEUS_URL=ksm_prometheus.url, METRICS="node_info", TIME_FRAME="86400")
    run_export(job, now=NOV_1 + 2 * 3600)
    body = s3_objects(s3_client, s3_bucket)[object_key(ROOT, NOV_1 - 86400, "node_info")]
    # node_info keeps no cluster label, so the two clusters' nodes come out together (3 + 2
    # nodes with distinct provider ids collapse to 3 distinct node names).
    assert len(document(body)["result"]) == 3
    assert "cluster" not in document(body)["query"]


def test_retention_deletes_expired_files_in_the_bucket(
        ksm_prometheus: PrometheusServer, s3_bucket: str, s3_client: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    job = settings(monkeypatch, CLUSTER_NAME="prod-1", S3_BUCKET=s3_bucket,
                   PROMETHEUS_URL=ksm_prometheus.url, METRICS="node_info", TIME_FRAME="86400",
                   RETENTION_DAYS="30", BACKFILL_DAYS="1")
    old_start = NOV_1 - 40 * 86400
    keep_start = NOV_1 - 10 * 86400
    for start in (old_start, keep_start):
        s3_client.put_object(Bucket=s3_bucket, Key=object_key(ROOT, start, "node_info"),
                             Body=b"x")
    other_cluster = object_key("k8s/prometheus/prod-2", old_start, "node_info")
    s3_client.put_object(Bucket=s3_bucket, Key=other_cluster, Body=b"x")

    report = run_export(job, now=NOV_1 + 2 * 3600)

    keys = set(s3_objects(s3_client, s3_bucket))
    assert report.deleted == 1
    assert object_key(ROOT, old_start, "node_info") not in keys
    assert object_key(ROOT, keep_start, "node_info") in keys
    assert other_cluster in keys  # another cluster's files are not this job's to delete
