"""Helpers shared by the k8s-export integration tests: a clean job environment, direct
PromQL queries to compare files against, and reading back what a run stored."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from focusflow.k8s_export import ExportSettings, load_settings

JOB_ENV = (
    "CLUSTER_NAME", "S3_BUCKET", "S3_PREFIX", "SCHEME", "PATH_PREFIX", "HOSTNAME",
    "PROMETHEUS_HOST", "PORT", "ROLE_ARN", "ROLE_EXTERNAL_ID", "TIME_FRAME", "BACKFILL_DAYS",
    "PROMETHEUS_AUTH_TOKEN", "PROMETHEUS_BEARER_AUTH_TOKEN", "PROMETHEUS_USERNAME",
    "PROMETHEUS_PASSWORD", "PROMETHEUS_X_SCOPE_ORGID", "QUERY_DELAY_SECONDS", "RETENTION_DAYS",
    "METRICS", "PROMETHEUS_URL", "PROMETHEUS_CA_FILE", "PROMETHEUS_INSECURE", "CLUSTER_LABEL",
    "SAFETY_LAG_SECONDS", "QUERY_STEP_SECONDS", "MAX_POINTS_PER_SERIES", "MAX_ATTEMPTS",
    "ALLOW_PARTIAL_RESPONSES", "REQUEST_TIMEOUT_SECONDS",
)
NOW = "2025-11-01T06:20:00Z"
NOW_TS = 1761978000  # NOW as Unix seconds
ROOT = "k8s/prometheus/prod-1"


def job_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Only the given job variables are set (plus no delay), whatever the shell had."""
    for name in JOB_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUERY_DELAY_SECONDS", "0")
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> ExportSettings:
    job_env(monkeypatch, **values)
    return load_settings()


_HTTP = httpx.Client(timeout=60)  # one client: building one per call costs ~50 ms of TLS setup


def direct_range(base_url: str, query: str, start: int, end: int, step: int, *,
                 headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    answer = _HTTP.post(f"{base_url}/api/v1/query_range", headers=headers or {}, data={
        "query": query, "start": str(start), "end": str(end), "step": str(step)}, timeout=60)
    body = answer.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def s3_objects(s3_client: Any, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object of ``bucket`` under ``prefix`` with its bytes."""
    objects: dict[str, bytes] = {}
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                    Prefix=prefix):
        for item in page.get("Contents", []):
            objects[item["Key"]] = s3_client.get_object(Bucket=bucket,
                                                        Key=item["Key"])["Body"].read()
    return objects


def document(body: bytes) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(gzip.decompress(body))
    return decoded


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
    """``focusflow k8s-export ARGS`` in a child process with exactly ``env`` for the job."""
    base = {key: value for key, value in os.environ.items() if key not in JOB_ENV}
    base["QUERY_DELAY_SECONDS"] = "0"
    base.update(env or {})
    focusflow = str(Path(sys.executable).with_name("focusflow"))
    return subprocess.run([focusflow, "k8s-export", *args], env=base, capture_output=True,
                          text=True, timeout=timeout, check=False)


def popen_cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    base = {key: value for key, value in os.environ.items() if key not in JOB_ENV}
    base["QUERY_DELAY_SECONDS"] = "0"
    base.update(env)
    focusflow = str(Path(sys.executable).with_name("focusflow"))
    return subprocess.Popen([focusflow, "k8s-export", *args], env=base, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
