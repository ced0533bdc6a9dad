"""Robustness against a real Prometheus behind a fault-injecting proxy: retries honouring
Retry-After, errors in HTTP 200, Thanos/VictoriaMetrics partial responses, splitting a range the
server finds too large, and a killed process resumed without a missing or differing file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.k8s_export_support import (
    ROOT,
    direct_range,
    document,
    popen_cli,
    run_cli,
    s3_objects,
    settings,
)
from fixtures.prometheus import PrometheusServer
from fixtures.recording_proxy import Canned, RecordingProxy
from focusflow.errors import SourceError, TransientSourceError
from focusflow.k8s_export import (
    CATALOGUE,
    PrometheusClient,
    object_key,
    read_state,
    run_export,
)
from focusflow.k8s_export.storage import LocalStore, S3Store

pytestmark = pytest.mark.integration

NOV_1 = 1761955200
OCT_31 = NOV_1 - 86400
NOW = NOV_1 + 2 * 3600
ProxyFactory = Callable[..., RecordingProxy]


def daily(monkeypatch: pytest.MonkeyPatch, out: Path, url: str, **env: str) -> Any:
    values = {"CLUSTER_NAME": "prod-1", "S3_BUCKET": out.as_uri(), "PROMETHEUS_URL": url,
              "TIME_FRAME": "86400", "BACKFILL_DAYS": "1", "CLUSTER_LABEL": "cluster",
              "METRICS": "node_capacity", **env}
    return settings(monkeypatch, **values)


def stored(out: Path, metric: str = "node_capacity", start: int = OCT_31) -> dict[str, Any]:
    body = LocalStore(out).get(object_key(ROOT, start, metric))
    assert body is not None
    return document(body)


def test_retries_honour_retry_after_then_succeed(
        ksm_prometheus: PrometheusServer, recording_proxy: ProxyFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    busy = [Canned(503, b'{"status":"error","errorType":"unavailable","error":"busy"}',
                   {"Retry-After": "0", "Content-Type": "application/json"}),
            Canned(429, b"slow down", {"Retry-After": "0"}),
            Canned(502, b"", {"Retry-After": "0"})]
    proxy = recording_proxy(ksm_prometheus.url, script=busy)
    waits: list[float] = []
    job = daily(monkeypatch, tmp_path, proxy.url)
    client = PrometheusClient(job, sleep=waits.append)

    report = run_export(job, now=NOW, client=client)
    client.close()

    assert report.files == 1
    assert waits == [0.0, 0.0, 0.0]  # Retry-After: 0, three times, no backoff of our own
    assert proxy.paths()[:4] == ["/api/v1/query"] * 4  # the readiness check was retried
    doc = stored(tmp_path)
    assert doc["result"] == direct_range(ksm_prometheus.url, doc["query"], doc["start"],
                                         doc["end"], doc["step"])


def test_gives_up_after_max_attempts_without_state(
        ksm_prometheus: PrometheusServer, recording_proxy: ProxyFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = recording_proxy(ksm_prometheus.url,
                            script=[Canned(504, b"gateway timeout", {"Retry-After": "0"})] * 3)
    with pytest.raises(TransientSourceError, match=r"HTTP 504.*gave up after 3 attempts"):
        run_export(daily(monkeypatch, tmp_path / "out", proxy.url, MAX_ATTEMPTS="3"), now=NOW)
    assert not (tmp_path / "out").exists()


def _error_in_200(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("data", {}).get("resultType") == "matrix":
        return {"status": "error", "errorType": "execution", "error": "store gateway exploded"}
    return body


def _thanos(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "warnings": ["No StoreAPIs matched for this query"]}


def _victoria(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "isPartial": True}


@pytest.mark.parametrize(("transform", "message"), [
    (_error_in_200, "store gateway exploded"),
    (_thanos, "No StoreAPIs matched"),
    (_victoria, "isPartial"),
], ids=["status-error-in-200", "thanos-warnings", "victoria-partial"])
def test_errors_and_partial_answers_fail_the_window(
        *, ksm_prometheus: PrometheusServer, recording_proxy: ProxyFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, transform: Callable[..., Any], message: str) -> None:
    proxy = recording_proxy(ksm_prometheus.url, transform=transform)
    with pytest.raises(SourceError, match=message):
        run_export(daily(monkeypatch, tmp_path / "out", proxy.url), now=NOW)
    assert not (tmp_path / "out").exists()  # no file, no state


def test_partial_answers_pass_when_allowed_and_are_recorded(
        ksm_prometheus: PrometheusServer, recording_proxy: ProxyFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = recording_proxy(ksm_prometheus.url, transform=_thanos)
    run_export(daily(monkeypatch, tmp_path, proxy.url, ALLOW_PARTIAL_RESPONSES="true"), now=NOW)
    assert stored(tmp_path)["warnings"] == ["No StoreAPIs matched for this query"]


def test_too_many_points_splits_the_range_and_merges(
        ksm_prometheus: PrometheusServer, recording_proxy: ProxyFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 86400 s at a 5 s step is 17,280 points per series: real Prometheus refuses more than
    # 11,000 (400 bad_data), so the job must split the day in two and merge the halves.
    proxy = recording_proxy(ksm_prometheus.url)
    job = daily(monkeypatch, tmp_path, proxy.url, QUERY_STEP_SECONDS="5",
                MAX_POINTS_PER_SERIES="20000")

    run_export(job, now=NOW)

    assert proxy.paths().count("/api/v1/query_range") == 3  # refused once, then two halves
    doc = stored(tmp_path)
    assert (doc["start"], doc["end"], doc["step"]) == (OCT_31, NOV_1 - 5, 5)
    middle = OCT_31 + 43200
    halves: dict[str, dict[str, Any]] = {}
    for start, end in ((OCT_31, middle - 5), (middle, NOV_1 - 5)):
        for series in direct_range(ksm_prometheus.url, doc["query"], start, end, 5):
            key = json.dumps(series["metric"], sort_keys=True)
            halves.setdefault(key, {"metric": series["metric"], "values": []})
            halves[key]["values"].extend(series["values"])
    assert doc["result"] == [halves[key] for key in sorted(
        halves, key=lambda k: sorted(halves[k]["metric"].items()))]
    # 3 nodes x (cpu, memory), 6 hours of history in that day at 720 points an hour
    assert sum(len(s["values"]) for s in doc["result"]) == 6 * 6 * 720


def test_timeouts_split_the_range_and_the_merge_equals_the_whole_query(
        ksm_prometheus: PrometheusServer, recording_proxy: ProxyFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    timeout = Canned(503, b'{"status":"error","errorType":"timeout","error":"query timed out '
                          b'in expression evaluation"}',
                     {"Retry-After": "0", "Content-Type": "application/json"})
    passing = Canned(0)
    # Readiness check and retention flags pass; the day's query times out twice (retried
    # once), then the two halves pass.
    proxy = recording_proxy(ksm_prometheus.url, script=[passing, passing, timeout, timeout])
    job = daily(monkeypatch, tmp_path, proxy.url, METRICS="memory_usage")

    run_export(job, now=NOW)

    ranges = [r.body.decode() for r in proxy.records if "query_range" in r.path]
    assert len(ranges) == 4
    doc = stored(tmp_path, "memory_usage")
    # Merged halves, sorted by labels, are exactly Prometheus's answer for the whole day.
    assert doc["result"] == direct_range(ksm_prometheus.url, doc["query"], OCT_31, NOV_1 - 60, 60)
    assert len(doc["result"]) == 7


@pytest.mark.slow
def test_killed_mid_backfill_then_rerun_matches_a_clean_run(
        ksm_prometheus: PrometheusServer, recording_proxy: ProxyFactory, s3_bucket: str,
        s3_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = "cpu_requests,memory_usage,node_info"
    env = {"CLUSTER_NAME": "prod-1", "S3_BUCKET": s3_bucket, "CLUSTER_LABEL": "cluster",
           "BACKFILL_DAYS": "1", "METRICS": metrics}
    now = "2025-11-01T06:20:00Z"  # 23 hourly windows due, 3 metrics each
    # Hold the 35th range query (window 12, 2nd metric) and kill the job while it waits.
    proxy = recording_proxy(ksm_prometheus.url, hold=35)
    job = popen_cli("--now", now, env={**env, "PROMETHEUS_URL": proxy.url})
    try:
        assert proxy.reached.wait(120), "the job never reached the held query"
    finally:
        job.kill()
        job.communicate(timeout=30)
        proxy.release.set()

    first_start = 1761890400  # 2025-10-31T06:00:00Z
    state = read_state(_s3_store(s3_bucket, s3_client), ROOT)
    assert state is not None
    assert state.last_completed_window_start == first_start + 10 * 3600  # 11 windows complete

    resumed = run_cli("--now", now, env={**env, "PROMETHEUS_URL": ksm_prometheus.url})
    assert resumed.returncode == 0, resumed.stderr
    assert "exported 12 windows" in resumed.stdout

    # The reference: the same export in one uninterrupted run, under another prefix.
    clean = settings(monkeypatch, **env, S3_PREFIX="clean", PROMETHEUS_URL=ksm_prometheus.url)
    assert len(run_export(clean, now=1761978000).windows) == 23
    crashed = s3_objects(s3_client, s3_bucket, f"{ROOT}/")
    reference = s3_objects(s3_client, s3_bucket, "clean/prod-1/")
    files = {k.removeprefix(f"{ROOT}/"): v for k, v in crashed.items()
             if not k.endswith("_state.json")}
    expected = {k.removeprefix("clean/prod-1/"): v for k, v in reference.items()
                if not k.endswith("_state.json")}
    assert len(expected) == 23 * 3
    assert files == expected  # same keys, byte-identical content
    final = read_state(_s3_store(s3_bucket, s3_client), ROOT)
    assert final is not None
    assert final.last_completed_window_start == first_start + 22 * 3600
    assert set(final.metrics) == set(metrics.split(",")) <= set(CATALOGUE)


def _s3_store(bucket: str, client: Any) -> S3Store:
    return S3Store(bucket, client)
