"""``/rows``: conditional requests per RFC 9110 and the per-pipeline bearer token (issue 15).

The exporter runs as users run it (``focusflow exporter`` in its own process, token from the
environment or a mounted file); the scraper is focusflow's own, through its real HTTP client.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from fixtures.exporter_pipeline import sample, scraper_for, serve
from fixtures.net import free_port, stop, wait_http
from focusflow.errors import SourceError
from focusflow.runtime.tokens import file_token
from focusflow.scraper.pipeline import Pipeline, load_pipeline

pytestmark = pytest.mark.integration

FOCUSFLOW = str(Path(sys.executable).parent / "focusflow")
TOKEN = "t0ken-for-rows-8c1f"


def test_if_none_match_star_and_lists_follow_rfc_9110() -> None:
    with serve({"source": str(sample("focus_1_2_cost_and_usage_aws.csv"))}) as served:
        url = f"{served.url}/rows"
        assert httpx.get(url, headers={"If-None-Match": "*"}).status_code == 503  # none yet
        assert served.exporter.poll_once()
        etag = httpx.head(url).headers["etag"]
        for header in ("*", f'W/"other", {etag}', f"W/{etag}", f'"x" ,{etag}'):
            reply = httpx.get(url, headers={"If-None-Match": header})
            assert (reply.status_code, reply.content) == (304, b""), header
            assert reply.headers["etag"] == etag
        for header in ('"other"', "", "garbage"):
            assert httpx.get(url, headers={"If-None-Match": header}).status_code == 200, header


def test_rows_needs_the_token_metrics_do_not() -> None:
    with serve({"source": str(sample("focus_1_2_cost_and_usage_gcp.csv"))},
               rows_token=TOKEN) as served:
        assert served.exporter.poll_once()
        url = f"{served.url}/rows"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                        {"Authorization": f"Basic {TOKEN}"}, {"If-None-Match": "*"}):
            denied = httpx.get(url, headers=headers)
            assert denied.status_code == 401 and "etag" not in denied.headers, headers
            assert denied.headers["www-authenticate"].startswith("Bearer")
            assert TOKEN not in denied.text
        allowed = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200 and allowed.headers["x-focusflow-rows"] == "2000"
        assert httpx.get(f"{served.url}/metrics").status_code == 200  # Prometheus: no token


def test_exporter_process_with_token_file_and_the_scraper(tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    shutil.copy(sample("focus_1_2_cost_and_usage_azure.csv"), report)
    config = tmp_path / "cr.yaml"
    config.write_text("kind: ExporterScraperConfig\nspec:\n  exporterConfig:\n"
                      "    source: report.csv\n    pollingInterval: 1h\n")
    token_file = tmp_path / "secret" / "token"
    token_file.parent.mkdir()
    token_file.write_text(TOKEN + "\n")
    port = free_port()
    process = subprocess.Popen(
        [FOCUSFLOW, "exporter", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
        env={**os.environ, "FOCUSFLOW_ROWS_TOKEN_FILE": str(token_file)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    db = tmp_path / "scraped.duckdb"
    try:
        wait_http(f"{url}/readyz", process, timeout=60)
        assert httpx.get(f"{url}/rows").status_code == 401
        with pytest.raises(SourceError, match="HTTP 401"):
            scraper_for(url, f"duckdb:///{db}").scrape_once()
        scraper = scraper_for(url, f"duckdb:///{db}")
        scraper.rows_token = file_token(token_file)
        result = scraper.scrape_once()
        assert result is not None and result.rows_written == 2000
        # The operator replaces the Secret: the new token applies without a restart.
        token_file.write_text("rotated-token-77\n")
        assert httpx.get(f"{url}/rows", headers={"Authorization": f"Bearer {TOKEN}"}
                         ).status_code == 401
        assert httpx.get(f"{url}/rows", headers={"Authorization": "Bearer rotated-token-77"}
                         ).status_code == 200
    finally:
        stop(process)
    assert process.stderr is not None
    with process.stderr:
        assert TOKEN not in process.stderr.read()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM focus").fetchone() == (2000,)


def test_run_makes_a_token_its_scrapers_send(tmp_path: Path) -> None:
    """``focusflow run``: /rows is closed to others, the in-process scrapers get in."""
    shutil.copy(sample("focus_1_2_cost_and_usage_gcp.csv"), tmp_path / "gcp.csv")
    (tmp_path / "pipeline.yaml").write_text(
        "kind: Pipeline\nlisten: 127.0.0.1:0\nsources:\n  - name: gcp\n"
        "    exporterConfig: {source: gcp.csv, pollingInterval: 1h}\n"
        "    scraperConfig: {tableName: focus, pollingInterval: 1h}\n")
    db = tmp_path / "run.duckdb"
    pipeline = Pipeline(load_pipeline(tmp_path / "pipeline.yaml"), tmp_path,
                        database_default=f"duckdb:///{db}")
    halt = threading.Event()
    worker = threading.Thread(target=pipeline.run, args=(halt,))
    worker.start()
    scraper = pipeline.scrapers["gcp"]
    deadline = time.monotonic() + 60
    try:
        # The scraper may start before the first snapshot (503, retried with backoff).
        while scraper.stats.loads == 0 and worker.is_alive() and time.monotonic() < deadline:
            worker.join(0.1)
        rows = httpx.get(f"http://127.0.0.1:{pipeline.server.port}/gcp/rows")
        assert rows.status_code == 401
    finally:
        halt.set()
        worker.join(60)
    assert scraper.stats.loads == 1 and "401" not in scraper.stats.last_error
