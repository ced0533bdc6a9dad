"""``focusflow k8s-export`` as the CronJob runs it: bad inputs give one clear error line, exit
code 1 and write nothing; a good run prints what it exported. Most cases call the console entry
point in-process (same code path, no interpreter start-up); one runs the real executable."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest

from fixtures.k8s_export_support import ROOT, job_env, run_cli, s3_objects
from fixtures.net import free_port
from fixtures.prometheus import PrometheusServer
from focusflow.cli import main

pytestmark = pytest.mark.integration

NOW = "2025-11-01T02:00:00Z"


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """``focusflow k8s-export ARGS`` through the console entry point, in this process."""
    job_env(monkeypatch, **env)
    monkeypatch.setattr(sys, "argv", ["focusflow", "k8s-export", *args])
    root = logging.getLogger()
    # The command configures logging like any entry point; put pytest's setup back after.
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    for name in ("httpx", "botocore"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    with pytest.raises(SystemExit) as exited:
        main()
    out = capsys.readouterr()
    return int(exited.value.code or 0), out.out, out.err


def base_env(bucket: str, url: str) -> dict[str, str]:
    return {"CLUSTER_NAME": "prod-1", "S3_BUCKET": bucket, "PROMETHEUS_URL": url,
            "TIME_FRAME": "86400", "BACKFILL_DAYS": "1", "METRICS": "node_info"}


@pytest.mark.parametrize(("change", "message"), [
    ({"CLUSTER_NAME": None}, "CLUSTER_NAME: is required"),
    ({"S3_BUCKET": None}, "S3_BUCKET: is required"),
    ({"TIME_FRAME": "1h"}, "TIME_FRAME: "),
    ({"TIME_FRAME": "7000"}, "TIME_FRAME: expected a number of seconds >= 60 that divides"),
    ({"BACKFILL_DAYS": "3 days"}, "BACKFILL_DAYS: expected a whole number of days: 3 or 3d"),
    ({"INITIAL_BACKFILL_DATE": "2025-13-01"}, "INITIAL_BACKFILL_DATE: expected a UTC date"),
    ({"INITIAL_BACKFILL_DATE": "2025-11-02"}, "INITIAL_BACKFILL_DATE 2025-11-02T00:00:00Z is in "
                                              "the future"),
    ({"PROMETHEUS_URL": "unreachable", "MAX_ATTEMPTS": "2"}, "cannot reach Prometheus at"),
    ({"PROMETHEUS_AUTH_TOKEN": "t", "PROMETHEUS_USERNAME": "u"}, "set only one"),
], ids=["no-cluster", "no-bucket", "time-frame-unit", "time-frame-divisor", "backfill-format",
        "initial-date-format", "initial-date-future", "unreachable", "two-auth-modes"])
def test_bad_inputs_fail_clearly_and_write_nothing(
        *, ksm_prometheus: PrometheusServer, s3_bucket: str, s3_client: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        change: dict[str, str | None], message: str) -> None:
    env = base_env(s3_bucket, ksm_prometheus.url)
    for key, value in change.items():
        if value is None:
            env.pop(key)
        elif value == "unreachable":
            env[key] = f"http://127.0.0.1:{free_port()}"
        else:
            env[key] = value

    code, _, err = run_main(monkeypatch, capsys, env, "--now", NOW)

    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert message in errors[0]
    assert "Traceback" not in err
    assert s3_objects(s3_client, s3_bucket) == {}  # no file, no partial state


def test_the_executable_exits_non_zero_on_an_unreachable_prometheus(
        s3_bucket: str, s3_client: Any) -> None:
    env = {**base_env(s3_bucket, f"http://127.0.0.1:{free_port()}"), "MAX_ATTEMPTS": "1"}
    done = run_cli("--now", NOW, env=env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: cannot reach Prometheus")
    assert "Traceback" not in done.stderr
    assert s3_objects(s3_client, s3_bucket) == {}


def test_a_good_run_reports_and_flags_override_the_environment(
        ksm_prometheus: PrometheusServer, s3_bucket: str, s3_client: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env = base_env(s3_bucket, ksm_prometheus.url)
    env["CLUSTER_NAME"] = "ignored"
    code, out, err = run_main(monkeypatch, capsys, env, "--now", NOW, "--cluster-name",
                              "prod-1", "--metrics", "node_info,pod_owner")
    assert code == 0, err
    assert "exported 1 windows (2 files) 2025-10-31T00:00:00Z .. 2025-11-01T00:00:00Z" in out
    assert sorted(s3_objects(s3_client, s3_bucket)) == [
        f"{ROOT}/_state.json",
        f"{ROOT}/end=20251101/day=31/metric=node_info/1761868800_node_info.json.gz",
        f"{ROOT}/end=20251101/day=31/metric=pod_owner/1761868800_pod_owner.json.gz",
    ]


def test_list_metrics_prints_the_catalogue_without_settings(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(monkeypatch, capsys, {}, "--list-metrics")
    assert code == 0
    assert 'kube_pod_container_resource_requests{resource="cpu",unit="core"' in out
    assert "network_transmit" in out
    # Finout's extra names are listed, marked as opt-in.
    (v2,) = [line for line in out.splitlines() if line.startswith("cpu_usage_v2 ")]
    assert "(Finout name)" in v2 and "(only when named in METRICS)" in v2
