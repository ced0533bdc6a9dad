"""The commands as users run them: ``focusflow exporter``, ``scraper`` and ``run``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from fixtures.exporter_pipeline import REPO, sample, serve, write_secret
from fixtures.net import free_port, stop, wait_http

pytestmark = pytest.mark.integration

FOCUSFLOW = str(Path(sys.executable).parent / "focusflow")


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([FOCUSFLOW, *args], capture_output=True, text=True, check=False,
                          cwd=cwd, timeout=120, env=env)


def test_invalid_config_fails_at_start_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "cr.yaml"
    config.write_text("kind: ExporterScraperConfig\nspec:\n  exporterConfig:\n"
                      "    source: a.csv\n    pollingInterval: soon\n")
    result = _run("exporter", "--config", str(config), "--once")
    assert result.returncode == 1
    assert "pollingInterval" in result.stderr and "Traceback" not in result.stderr


def test_missing_endpoint_outside_kubernetes_fails_at_start(tmp_path: Path) -> None:
    exporter = tmp_path / "exporter.yaml"
    exporter.write_text("exporterConfig: {api: {path: /report.csv}, pollingInterval: 1m}\n")
    result = _run("exporter", "--config", str(exporter), "--once")
    assert result.returncode == 1 and "endpointRef" in result.stderr
    scraper = tmp_path / "scraper.yaml"
    scraper.write_text("kind: ScraperConfig\nspec: {tableName: t, pollingInterval: 1m}\n")
    result = _run("scraper", "--config", str(scraper), "--once", "--database-url",
                  "duckdb:///x.duckdb")
    assert result.returncode == 1 and "exporterUrl is required" in result.stderr


def test_exporter_command_serves_a_krateo_cr(tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    shutil.copy(sample("focus_1_2_cost_and_usage_gcp.csv"), report)
    config = tmp_path / "cr.yaml"
    config.write_text("apiVersion: finops.krateo.io/v1\nkind: ExporterScraperConfig\n"
                      "metadata: {name: gcp, namespace: finops}\nspec:\n  exporterConfig:\n"
                      "    source: report.csv\n    metricType: cost\n"
                      "    pollingInterval: {duration: 1h0m0s}\n")
    port = free_port()
    process = subprocess.Popen([FOCUSFLOW, "exporter", "--config", str(config), "--listen",
                                f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", process, timeout=60)
        import httpx  # noqa: PLC0415

        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert metrics.count("\nbilled_cost{") == 2000
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        stop(process)


def test_scraper_command_with_operator_config(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    with serve({"source": str(sample("focus_1_2_cost_and_usage_azure.csv"))}) as served:
        assert served.exporter.poll_once()
        write_secret(secrets, "krateo-system", "azure-focus", {"server-url": served.url})
        db = tmp_path / "scraped.duckdb"
        config = tmp_path / "config.yaml"
        config.write_text(f"""
apiVersion: finops.krateo.io/v1
kind: ScraperConfig
metadata: {{name: azure-focus-scraper, namespace: krateo-system}}
spec:
  tableName: finops
  pollingInterval: 1h
  api: {{path: /metrics, verb: GET, endpointRef: {{name: azure-focus, namespace: krateo-system}}}}
  scraperDatabaseConfigRef: {{name: db, namespace: krateo-system}}
---
apiVersion: finops.krateo.io/v1
kind: DatabaseConfig
metadata: {{name: db, namespace: krateo-system}}
spec: {{type: duckdb, uri: {db}}}
""")
        result = _run("scraper", "--config", str(config), "--secrets-dir", str(secrets),
                      "--once")
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        count = con.execute('SELECT COUNT(*), MIN("_focusflow_source") FROM finops').fetchone()
    assert count == (2000, "scraper:krateo-system/azure-focus-scraper")


@pytest.mark.slow
def test_run_example_pipeline_once(tmp_path: Path) -> None:
    """``make demo``'s pipeline: three samples served and scraped into DuckDB, idempotently."""
    for _ in range(2):
        result = _run("run", str(REPO / "examples" / "pipeline.yaml"), "--once", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    with duckdb.connect(str(tmp_path / "demo" / "focusflow.duckdb"), read_only=True) as con:
        rows = con.execute('SELECT "_focusflow_source", COUNT(*) FROM focus GROUP BY 1 ORDER BY 1'
                       ).fetchall()
    assert rows == [("pipeline:aws", 2000), ("pipeline:azure", 2000), ("pipeline:gcp", 2000)]
    summary = _run("summary", "--db", f"duckdb:///{tmp_path / 'demo' / 'focusflow.duckdb'}",
                   "--table", "focus")
    assert summary.returncode == 0 and "Cost by service" in summary.stdout


def test_pipeline_runs_until_stopped(tmp_path: Path) -> None:
    """``focusflow run`` without --once: exporter and scraper threads until the stop event."""
    import threading  # noqa: PLC0415

    from focusflow.scraper.pipeline import Pipeline, load_pipeline  # noqa: PLC0415

    shutil.copy(sample("focus_1_2_cost_and_usage_gcp.csv"), tmp_path / "gcp.csv")
    db = tmp_path / "run.duckdb"
    (tmp_path / "pipeline.yaml").write_text(
        "kind: Pipeline\nlisten: 127.0.0.1:0\nsources:\n  - name: gcp\n"
        "    exporterConfig: {source: gcp.csv, pollingInterval: 1h}\n"
        "    scraperConfig: {tableName: focus, pollingInterval: 1h}\n")
    pipeline = Pipeline(load_pipeline(tmp_path / "pipeline.yaml"), tmp_path,
                        database_default=f"duckdb:///{db}")
    stop = threading.Event()
    worker = threading.Thread(target=pipeline.run, args=(stop,))
    worker.start()
    scraper = pipeline.scrapers["gcp"]
    deadline = time.monotonic() + 60
    try:
        while scraper.stats.loads == 0 and worker.is_alive() and time.monotonic() < deadline:
            worker.join(0.1)
        # /metrics is rendered on demand in a pipeline (the scraper only needs /rows).
        snapshot = pipeline.exporters["gcp"].holder.current
        assert snapshot is not None and snapshot.rendered is None
        import httpx  # noqa: PLC0415

        metrics = httpx.get(f"http://127.0.0.1:{pipeline.server.port}/gcp/metrics").text
        assert metrics.count("\nbilled_cost{") == 2000 and snapshot.rendered is not None
    finally:
        stop.set()
        worker.join(60)
    assert not worker.is_alive() and scraper.stats.loads == 1
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM focus").fetchone() == (2000,)
