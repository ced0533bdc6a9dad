"""No secret in any output (issue 15 item 4): every kind of command, run as users run it, with
planted secrets in every place one can come from — URL userinfo, query parameters (``sig``,
``token``), flags, environment variables, mounted Secrets — and ALL output (stdout, stderr, at
DEBUG, text and JSON) grepped for them.

Real parts: the ksm-history Prometheus (an HTTP server that answers 404 to a CSV path, and the
API k8s-export and allocate query), the throwaway PostgreSQL (refusing a wrong password), moto
S3, and closed loopback ports (connection refused, so the retry warnings run). Before the fix,
httpx logged request URLs with their query strings and ``k8s-export`` printed the password of
``PROMETHEUS_URL`` in every retry warning and its final error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.net import free_port
from fixtures.postgres import PostgresServer
from fixtures.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

FOCUSFLOW = str(Path(sys.executable).with_name("focusflow"))
URL_PW = "Pl4nted-url-pw"
SIG = "Pl4ntedSig0x"
TOKEN = "Pl4nted-token-77"
ENV_PW = "Pl4nted-env-pw"
MOUNTED = "Pl4nted-mounted-pw"
PLANTED = (URL_PW, SIG, TOKEN, ENV_PW, MOUNTED)


def _run(*args: str, env: dict[str, str] | None = None, stop_after: float | None = None
         ) -> str:
    """Run ``focusflow ARGS`` and return everything it wrote (exit status is not the point:
    most of these runs fail on purpose, which is where secrets used to leak). A service that
    retries for ever gets SIGTERM after ``stop_after`` seconds."""
    full = {**os.environ, "COLUMNS": "300", "QUERY_DELAY_SECONDS": "0", **(env or {})}
    process = subprocess.Popen([FOCUSFLOW, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=full)
    try:
        out, err = process.communicate(timeout=stop_after or 180)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert "Traceback" not in err, err
    return out + err


def _assert_clean(output: str) -> None:
    leaked = [secret for secret in PLANTED if secret in output]
    assert not leaked, f"{leaked} in:\n{output}"


@pytest.fixture
def prometheus_with_secrets(ksm_prometheus: PrometheusServer) -> str:
    """The real Prometheus's URL with a password and a signature planted in it."""
    return ksm_prometheus.url.replace("http://", f"http://reader:{URL_PW}@") + f"?sig={SIG}"


@pytest.mark.parametrize("log", [["--log-level", "DEBUG"], ["--log-level", "DEBUG",
                                                              "--log-json"]])
def test_ingest_and_validate_of_a_secret_url(prometheus_with_secrets: str,
                                             tmp_path: Path, log: list[str]) -> None:
    base, _, query = prometheus_with_secrets.partition("?")
    source = f"{base}/report.csv?{query}&token={TOKEN}"  # the server answers 404
    db = f"duckdb:///{tmp_path / 'x.duckdb'}"
    env = {"FOCUSFLOW_PASSWORD": ENV_PW}
    output = _run("ingest", source, "--db", db, "--bearer-token", TOKEN, "--username", "u",
                  *log, env=env)
    assert "404" in output  # it did reach the server and report the failure
    _assert_clean(output)
    unreachable = f"http://u:{URL_PW}@127.0.0.1:{free_port()}/a.csv?sig={SIG}"
    _assert_clean(_run("ingest", unreachable, "--db", db, *log))
    _assert_clean(_run("validate", unreachable, *log))


def test_database_commands_with_a_secret_database_url(postgres_server: PostgresServer) -> None:
    url = postgres_server.url(password=URL_PW)  # the wrong password: the server refuses it
    for command in (["summary"], ["export", "out.csv"], ["plot"]):
        output = _run(*command, "--db", url, "--log-level", "DEBUG")
        assert "error:" in output
        _assert_clean(output)
    _assert_clean(_run("summary", "--db", postgres_server.url(), "--log-level", "DEBUG",
                       env={"PGPASSWORD": ENV_PW}))


def test_k8s_export_and_allocate_with_a_secret_prometheus_url(
        prometheus_with_secrets: str, s3_bucket: str) -> None:
    closed = f"http://reader:{URL_PW}@127.0.0.1:{free_port()}?token={TOKEN}"
    job = {"CLUSTER_NAME": "prod-1", "S3_BUCKET": s3_bucket, "TIME_FRAME": "86400",
           "BACKFILL_DAYS": "1", "METRICS": "node_info", "MAX_ATTEMPTS": "2"}
    for url in (closed, prometheus_with_secrets.partition("?")[0]):
        output = _run("k8s-export", "--now", "2025-11-01T02:00:00Z", "--log-level", "DEBUG",
                      env={**job, "PROMETHEUS_URL": url, "PROMETHEUS_AUTH_TOKEN": TOKEN})
        _assert_clean(output)
    output = _run("allocate", "--prometheus", closed, "--start", "2026-03-10T00:00:00Z",
                  "--end", "2026-03-10T01:00:00Z", "--log-level", "DEBUG",
                  "--db", "duckdb:///:memory:")
    assert "error:" in output
    _assert_clean(output)


def test_exporter_and_scraper_with_secrets_from_mounted_secrets(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets" / "ns"
    (secrets / "upstream").mkdir(parents=True)
    closed = free_port()
    (secrets / "upstream" / "server-url").write_text(
        f"http://u:{MOUNTED}@127.0.0.1:{closed}?sig={SIG}")
    (secrets / "upstream" / "token").write_text(TOKEN)
    exporter = tmp_path / "exporter.yaml"
    exporter.write_text(
        "kind: ExporterScraperConfig\nmetadata: {name: x, namespace: ns}\nspec:\n"
        "  exporterConfig:\n    pollingInterval: 1h\n"
        "    api: {path: /report.csv, verb: GET, endpointRef: {name: upstream, namespace: ns}}\n")
    output = _run("exporter", "--config", str(exporter), "--secrets-dir",
                  str(tmp_path / "secrets"), "--once", "--log-level", "DEBUG", stop_after=8)
    _assert_clean(output)
    scraper = tmp_path / "scraper.yaml"
    scraper.write_text(
        "kind: ScraperConfig\nmetadata: {name: s, namespace: ns}\nspec:\n  tableName: t\n"
        "  pollingInterval: 1h\n"
        "  api: {path: /metrics, verb: GET, endpointRef: {name: upstream, namespace: ns}}\n")
    output = _run("scraper", "--config", str(scraper), "--secrets-dir",
                  str(tmp_path / "secrets"), "--once", "--log-level", "DEBUG", "--log-json",
                  "--database-url", f"duckdb:///{tmp_path / 's.duckdb'}", stop_after=8)
    assert "retry" in output.lower() or "refused" in output.lower()
    _assert_clean(output)


def test_azure_commands_with_a_planted_client_secret(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    credentials = tmp_path / "azure"
    credentials.mkdir()
    for name, value in (("tenantId", "t"), ("clientId", "c"), ("clientSecret", MOUNTED)):
        (credentials / name).write_text(value)
    for auth in (["--tenant-id", "t", "--client-id", "c", "--client-secret", TOKEN],
                 ["--credentials-dir", str(credentials)]):
        output = _run("--log-level", "DEBUG", "azure", "query",  # the root's log options
                      "subscriptions/00000000-0000-0000-0000-000000000000",
                      *auth, "--authority-host", closed, "--resource-manager-url", closed,
                      "--db", f"duckdb:///{tmp_path / 'a.duckdb'}",
                      env={"AZURE_CLIENT_SECRET": ENV_PW})
        assert "error:" in output
        _assert_clean(output)
