"""Auth modes, tenant header, path prefixes and STS AssumeRole, asserted on the requests a
recording proxy in front of the real Prometheus (or moto's STS) received."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from fixtures.k8s_export_support import ROOT, s3_objects, settings
from fixtures.ksm_history import copy_tsdb, start_prometheus
from fixtures.net import stop
from fixtures.prometheus import PrometheusServer
from fixtures.recording_proxy import RecordingProxy
from focusflow.errors import SourceError
from focusflow.k8s_export import object_key, read_state, run_export
from focusflow.k8s_export.storage import open_store

pytestmark = pytest.mark.integration

NOV_1 = 1761955200
NOW = NOV_1 + 2 * 3600  # one daily window (2025-10-31) is due
ProxyFactory = Callable[..., RecordingProxy]


def one_window(monkeypatch: pytest.MonkeyPatch, bucket: str, **env: str) -> Any:
    return settings(monkeypatch, CLUSTER_NAME="prod-1", S3_BUCKET=bucket, TIME_FRAME="86400",
                    BACKFILL_DAYS="1", METRICS="node_info,cpu_requests", **env)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, {}),
    ({"PROMETHEUS_AUTH_TOKEN": "raw-t0ken"}, {"authorization": "raw-t0ken"}),
    ({"PROMETHEUS_BEARER_AUTH_TOKEN": "b3arer"}, {"authorization": "Bearer b3arer"}),
    ({"PROMETHEUS_USERNAME": "grafana-123", "PROMETHEUS_PASSWORD": "glc_pw"},
     {"authorization": "Basic " + base64.b64encode(b"grafana-123:glc_pw").decode()}),
    ({"PROMETHEUS_X_SCOPE_ORGID": "tenant-a"}, {"x-scope-orgid": "tenant-a"}),
], ids=["none", "token", "bearer", "basic", "tenant"])
def test_each_auth_mode_sends_exactly_its_header(
        *, ksm_prometheus: PrometheusServer, recording_proxy: ProxyFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: dict[str, str]) -> None:
    proxy = recording_proxy(ksm_prometheus.url)
    job = one_window(monkeypatch, tmp_path.as_uri(), PROMETHEUS_URL=proxy.url, **env)

    report = run_export(job, now=NOW)

    assert report.files == 2
    assert len(proxy.records) == 4  # readiness query, retention flags, two range queries
    for record in proxy.records:
        sent = {k.lower(): v for k, v in record.headers.items()
                if k.lower() in {"authorization", "x-scope-orgid"}}
        assert sent == expected, record.path


def test_prometheus_basic_auth_accepts_right_and_rejects_wrong_credentials(
        ksm_tsdb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = bcrypt.hashpw(b"right-pw", bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  finout: {hashed}\n")
    server = start_prometheus(tmp_path, copy_tsdb(ksm_tsdb, tmp_path / "tsdb"),
                              (f"--web.config.file={web}",))
    try:
        good = one_window(monkeypatch, (tmp_path / "good").as_uri(), PROMETHEUS_URL=server.url,
                          PROMETHEUS_USERNAME="finout", PROMETHEUS_PASSWORD="right-pw")
        assert run_export(good, now=NOW).files == 2

        out = tmp_path / "bad"
        bad = one_window(monkeypatch, out.as_uri(), PROMETHEUS_URL=server.url,
                         PROMETHEUS_USERNAME="finout", PROMETHEUS_PASSWORD="wrong-pw")
        with pytest.raises(SourceError, match=r"HTTP 401.*refused the credentials") as caught:
            run_export(bad, now=NOW)
        assert "wrong-pw" not in str(caught.value)
        assert not out.exists()  # nothing written, no state
    finally:
        stop(server.process)


@pytest.mark.parametrize("prefix", ["/prometheus", "/select/0/prometheus"])
def test_path_prefix_reaches_prometheus_behind_a_prefixing_proxy(
        ksm_prometheus: PrometheusServer, recording_proxy: ProxyFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    proxy = recording_proxy(ksm_prometheus.url, prefix=prefix)
    job = one_window(monkeypatch, tmp_path.as_uri(), HOSTNAME="127.0.0.1", PORT=str(proxy.port),
                     PATH_PREFIX=prefix)
    assert job.base_url == f"http://127.0.0.1:{proxy.port}{prefix}"

    report = run_export(job, now=NOW)

    assert report.files == 2
    assert proxy.paths() == [f"{prefix}/api/v1/query", f"{prefix}/api/v1/status/flags",
                             f"{prefix}/api/v1/query_range", f"{prefix}/api/v1/query_range"]


def test_missing_path_prefix_is_a_clear_error(
        ksm_prometheus: PrometheusServer, recording_proxy: ProxyFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = recording_proxy(ksm_prometheus.url, prefix="/prometheus")
    job = one_window(monkeypatch, (tmp_path / "out").as_uri(), PROMETHEUS_URL=proxy.url)
    with pytest.raises(SourceError, match=r"HTTP 404.*PATH_PREFIX"):
        run_export(job, now=NOW)
    assert not (tmp_path / "out").exists()


def test_assume_role_sends_role_arn_and_external_id(
        *, ksm_prometheus: PrometheusServer, recording_proxy: ProxyFactory, s3_env: str,
        s3_bucket: str, s3_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sts = recording_proxy(s3_env)  # STS requests go through one proxy to moto,
    s3 = recording_proxy(s3_env)   # S3 requests through another
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
    role = "arn:aws:iam::123456789012:role/finout-writer"
    job = one_window(monkeypatch, s3_bucket, PROMETHEUS_URL=ksm_prometheus.url,
                     ROLE_ARN=role, ROLE_EXTERNAL_ID="finout-ext-42", AWS_ENDPOINT_URL=s3.url)

    report = run_export(job, now=NOW)

    assert report.files == 2
    forms = [urllib.parse.parse_qs(record.body.decode()) for record in sts.records]
    assert len(forms) == 1
    assert forms[0]["Action"] == ["AssumeRole"]
    assert forms[0]["RoleArn"] == [role]
    assert forms[0]["ExternalId"] == ["finout-ext-42"]
    assert forms[0]["RoleSessionName"] == ["focusflow-k8s-export"]
    # The assumed session's credentials, not the environment's, signed every S3 request.
    assert s3.records
    for record in s3.records:
        assert "Credential=testing/" not in record.headers["Authorization"]
        assert record.headers.get("X-Amz-Security-Token")
    assert object_key(ROOT, NOV_1 - 86400, "node_info") in s3_objects(s3_client, s3_bucket)
    state = read_state(open_store(s3_bucket, endpoint_url=s3_env), ROOT)
    assert state is not None
    assert state.last_completed_window_start == NOV_1 - 86400
