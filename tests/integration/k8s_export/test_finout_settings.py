"""Finout's documented CronJob settings (tests/data/finout, see its SOURCE.md) against a real
Prometheus (promtool-backfilled KSM/cAdvisor history) and moto S3.

Each test is an incompatibility of issue 13 that failed before: ``BACKFILL_DAYS: "3d"`` was
refused, ``INITIAL_BACKFILL_DATE`` ignored, Finout's metric names refused, and the image started
with Finout's env and no arguments printed help and exited 0 having exported nothing.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from fixtures.k8s_export_support import (
    JOB_ENV,
    ROOT,
    direct_range,
    document,
    job_env,
    s3_objects,
)
from fixtures.prometheus import PrometheusServer
from focusflow.cli import main
from focusflow.k8s_export import CATALOGUE, DEFAULT_METRICS, object_key, read_state
from focusflow.k8s_export.layout import align_down
from focusflow.k8s_export.state import ExportState, write_state
from focusflow.k8s_export.storage import open_store

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
FINOUT = yaml.safe_load((REPO / "tests/data/finout/cronjob-settings.yaml").read_text())
FINOUT_METRICS = [*FINOUT["metric_names"]["setup_guide"],
                  *FINOUT["metric_names"]["compatibility_page"]]
NOW = "2025-11-01T06:20:00Z"
NOV_1 = 1761955200  # 2025-11-01T00:00:00Z
DAY = 86400


def finout_env(bucket: str, prometheus: PrometheusServer, **overrides: str) -> dict[str, str]:
    """The documented env of Finout's CronJob, the user's values filled with loopback servers."""
    host = urlsplit(prometheus.url).hostname or "127.0.0.1"
    fill = {"<cluster-name>": "prod-1", "<bucket>": bucket, "<prometheus-host>": host}
    env = {e["name"]: fill.get(e["value"], e["value"]) for e in FINOUT["env"]}
    env["PORT"] = str(prometheus.port)  # the documented 9090 is taken on a shared machine
    env.update(overrides)
    return env


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """``focusflow ARGS`` through the console entry point, in this process, with ``env``."""
    job_env(monkeypatch, **env)
    monkeypatch.setattr(sys, "argv", ["focusflow", *args])
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    for name in ("httpx", "botocore"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    with pytest.raises(SystemExit) as exited:
        main()
    out = capsys.readouterr()
    return int(exited.value.code or 0), out.out, out.err


def _drop_node(result: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return sorted((json.dumps({k: v for k, v in series["metric"].items() if k != "node"},
                              sort_keys=True), series["values"]) for series in result)


def keys_of(objects: dict[str, bytes]) -> list[str]:
    return sorted(key for key in objects if not key.endswith("_state.json"))


def test_finout_backfill_days_3d_runs_like_3(
        ksm_prometheus: PrometheusServer, s3_bucket: str, s3_client: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env = finout_env(s3_bucket, ksm_prometheus, TIME_FRAME="86400", METRICS="cpu_requests")
    assert env["BACKFILL_DAYS"] == "3d"  # as Finout's docs write it

    code, _, err = run_main(monkeypatch, capsys, env, "k8s-export", "--now", NOW)

    assert code == 0, err
    three_days = [NOV_1 - 3 * DAY, NOV_1 - 2 * DAY, NOV_1 - DAY]
    assert keys_of(s3_objects(s3_client, s3_bucket)) == sorted(
        object_key(ROOT, start, "cpu_requests") for start in three_days)
    finout_run = s3_objects(s3_client, s3_bucket)
    for key in finout_run:
        s3_client.delete_object(Bucket=s3_bucket, Key=key)
    code, _, err = run_main(monkeypatch, capsys, {**env, "BACKFILL_DAYS": "3"}, "k8s-export",
                            "--now", NOW)
    assert code == 0, err
    plain_run = s3_objects(s3_client, s3_bucket)
    assert {k: v for k, v in plain_run.items() if "_state" not in k} == \
        {k: v for k, v in finout_run.items() if "_state" not in k}


def test_finout_metric_names_are_written_under_their_own_name(
        ksm_prometheus: PrometheusServer, s3_bucket: str, s3_client: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # INITIAL_BACKFILL_DATE (Finout release notes) replaces the 3-day backfill: five hourly
    # windows since 2025-11-01T00:00Z (the last one ended an hour before 06:20Z) instead of 71.
    # CLUSTER_LABEL keeps the other cluster of this shared history out (Finout's documented
    # queries group by the cluster label for the same reason).
    env = finout_env(s3_bucket, ksm_prometheus, METRICS=",".join(FINOUT_METRICS),
                     INITIAL_BACKFILL_DATE="2025-11-01", CLUSTER_LABEL="cluster")
    code, out, err = run_main(monkeypatch, capsys, env, "k8s-export", "--now", NOW)
    assert code == 0, err
    assert "exported 5 windows (45 files) 2025-11-01T00:00:00Z .. 2025-11-01T05:00:00Z" in out

    objects = s3_objects(s3_client, s3_bucket)
    starts = [NOV_1 + hour * 3600 for hour in range(5)]
    assert keys_of(objects) == sorted(object_key(ROOT, start, name) for start in starts
                                      for name in FINOUT_METRICS)
    assert (f"{ROOT}/end=20251201/day=1/metric=cpu_usage_v2/{NOV_1}_cpu_usage_v2.json.gz"
            in objects)
    window = NOV_1 + 3600
    files = {name: document(objects[object_key(ROOT, window, name)]) for name in FINOUT_METRICS}
    for name, doc in files.items():
        assert doc["metric"] == name
        assert doc["result"], f"{name}: no series"
        query = CATALOGUE[name].promql("cluster", "prod-1")
        assert doc["result"] == direct_range(ksm_prometheus.url, query, doc["start"],
                                             doc["end"], doc["step"])
    # The _v2 variants take the node from `instance`. cAdvisor's CPU and memory series carry
    # both (equal), so v2 == plain; its network series have only `instance`, so v2 adds the
    # node the plain file lacks, with the same values.
    nodes = {f"node-{n}" for n in range(3)}
    for plain in ("cpu_usage", "memory_usage", "bytes_received", "bytes_transmitted"):
        v2 = files[f"{plain}_v2"]["result"]
        assert {series["metric"]["node"] for series in v2} <= nodes
        if plain.startswith("bytes_"):
            assert _drop_node(v2) == _drop_node(files[plain]["result"])
        else:
            assert v2 == files[plain]["result"]
    assert all("node" not in s["metric"] for s in files["bytes_received"]["result"])
    state = read_state(open_store(s3_bucket, endpoint_url=os.environ["AWS_ENDPOINT_URL"]),
                       ROOT)
    assert state is not None and state.metrics == FINOUT_METRICS


def test_initial_backfill_date_goes_further_back_than_backfill_days_and_resumes(
        ksm_prometheus: PrometheusServer, s3_bucket: str, s3_client: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env = finout_env(s3_bucket, ksm_prometheus, TIME_FRAME="86400", METRICS="cpu_requests",
                     BACKFILL_DAYS="1d", INITIAL_BACKFILL_DATE="2025-10-25")
    code, _, err = run_main(monkeypatch, capsys, env, "k8s-export", "--now", NOW)
    assert code == 0, err
    days = [NOV_1 - n * DAY for n in range(7, 0, -1)]  # 2025-10-25 .. 2025-10-31
    assert keys_of(s3_objects(s3_client, s3_bucket)) == sorted(
        object_key(ROOT, start, "cpu_requests") for start in days)

    # Five days later the next run continues at 2025-11-01, although that is more than
    # BACKFILL_DAYS ago: no window after INITIAL_BACKFILL_DATE is skipped.
    code, out, err = run_main(monkeypatch, capsys, env, "k8s-export", "--now",
                              "2025-11-06T06:20:00Z")
    assert code == 0, err
    assert "exported 5 windows (5 files) 2025-11-01T00:00:00Z .. 2025-11-06T00:00:00Z" in out


def _entrypoint() -> list[str]:
    """The final stage's ENTRYPOINT + CMD of the Dockerfile, as the container runtime runs a
    start without arguments; the program resolved in this virtualenv (the image's PATH puts
    its virtualenv first the same way)."""
    stage: list[str] = []
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            stage = []
        stage.append(line)
    entry = [json.loads(line.split(None, 1)[1]) for line in stage
             if line.startswith("ENTRYPOINT ")]
    cmd = [json.loads(line.split(None, 1)[1]) for line in stage if line.startswith("CMD ")]
    argv: list[str] = [*entry[-1], *(cmd[-1] if cmd else [])]
    argv[0] = str(Path(sys.executable).with_name(argv[0]))
    return argv


def _start_image(env: dict[str, str]) -> tuple[int, str, str]:
    import subprocess  # noqa: PLC0415  (only these tests start processes)

    base = {k: v for k, v in os.environ.items() if k not in JOB_ENV}
    base.update(env)
    done = subprocess.run(_entrypoint(), env=base, capture_output=True, text=True,
                          timeout=300, check=False)
    return done.returncode, done.stdout, done.stderr


def test_finouts_cronjob_with_only_the_image_swapped_runs_the_export(
        ksm_prometheus: PrometheusServer, s3_bucket: str, s3_client: Any) -> None:
    # A CronJob that has run for a while: its state says the windows up to two hours before
    # the last due one are done, so this run exports the remaining ones at the real clock.
    store = open_store(s3_bucket, endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    last_due = align_down(time.time() - 3600, 3600) - 3600
    write_state(store, ROOT, ExportState(cluster="prod-1",
                                         last_completed_window_start=last_due - 2 * 3600,
                                         time_frame=3600, metrics=list(DEFAULT_METRICS)))
    env = finout_env(s3_bucket, ksm_prometheus, QUERY_DELAY_SECONDS="0", LOG_JSON="true")

    code, out, err = _start_image(env)

    assert code == 0, err
    first = json.loads(err.splitlines()[0])  # one line, in the job's (JSON) log format
    assert first["logger"] == "focusflow.cli" and first["level"] == "INFO"
    assert first["msg"] == ("no command given; CLUSTER_NAME and S3_BUCKET are set (Finout's "
                            "CronJob contract): running `focusflow k8s-export`")
    assert "exported " in out
    state = read_state(store, ROOT)
    assert state is not None and state.last_completed_window_start >= last_due
    starts = range(last_due - 3600, state.last_completed_window_start + 1, 3600)
    assert keys_of(s3_objects(s3_client, s3_bucket)) == sorted(
        object_key(ROOT, start, name) for start in starts for name in DEFAULT_METRICS)


@pytest.mark.parametrize("env", [{}, {"CLUSTER_NAME": "prod-1"}, {"S3_BUCKET": "b"},
                                 {"CLUSTER_NAME": " ", "S3_BUCKET": "b"}],
                         ids=["no-env", "cluster-only", "bucket-only", "blank-cluster"])
def test_a_bare_image_start_without_finouts_env_fails_with_one_line(
        env: dict[str, str]) -> None:
    code, out, err = _start_image(env)
    assert code == 2, shlex.join(_entrypoint())
    assert out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("error: no command given, and no Finout export environment "
                           "(CLUSTER_NAME and S3_BUCKET)")
    assert "focusflow --help" in line
