"""Faults: a failing source keeps the last good snapshot; a locked or unreachable database is
retried with no loss and no duplicate; a snapshot cut short loads nothing; secrets stay out of
logs, /metrics and error messages."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from pydantic import SecretStr

from fixtures.exporter_pipeline import read, sample, scraper_for, serve, write_secret
from fixtures.upstream_http import Upstream
from focusflow.errors import FocusflowError, TransientSinkError, TransientSourceError
from focusflow.exporter.snapshot import arrow_ipc
from focusflow.runtime import endpoint_resolver
from focusflow.scraper import DatabaseConfig, Scraper, ScraperConfig, database_url
from focusflow.sources import DirectorySecretStore

pytestmark = pytest.mark.integration

AWS = sample("focus_1_2_cost_and_usage_aws.csv")
SMALL = (b"BillingPeriodStart,ChargePeriodStart,BilledCost,ServiceName\n"
         b"2026-05-01T00:00:00Z,2026-05-01T00:00:00Z,1.5,EC2\n"
         b"2026-05-01T00:00:00Z,2026-05-01T01:00:00Z,2.5,S3\n")


def _endpoint(upstream: Upstream, secrets: Path, **extra: str) -> dict[str, object]:
    write_secret(secrets, "ns", "src", {"server-url": upstream.url, **extra})
    return {"api": {"path": "/report.csv", "endpointRef": {"name": "src", "namespace": "ns"}}}


@pytest.mark.parametrize("fault", ["500", "timeout", "garbage", "unknown-type", "ragged",
                                   "not-array"])
def test_source_failure_keeps_the_last_good_snapshot(
    fault: str, upstream: Upstream, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    upstream.respond(200, SMALL, "text/csv")
    with serve(_endpoint(upstream, tmp_path), tmp_path, timeout=0.5) as served:
        assert served.exporter.poll_once()
        good = httpx.get(f"{served.url}/rows")
        replies = {
            "500": dict(status=500, body=b"oops"),
            "timeout": dict(status=200, body=SMALL, hang=True),
            "garbage": dict(status=200, body=b"\x00\x01\x02binary\xff" * 10,
                            content_type="application/octet-stream"),
            "unknown-type": dict(status=200, body=b"<html/>", content_type="text/html"),
            "ragged": dict(status=200, body=SMALL + b"x,y\n"),
            "not-array": dict(status=200, body=b'{"BilledCost": 1}',
                              content_type="application/json"),
        }
        upstream.respond(**replies[fault])  # type: ignore[arg-type]
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            assert not served.exporter.poll_once()
        upstream.release.set()
        # One clear error line per failed cycle; the last good snapshot is still served.
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "serving the last good snapshot" in errors[0].getMessage()
        after = httpx.get(f"{served.url}/rows")
        assert after.status_code == 200 and after.headers["etag"] == good.headers["etag"]
        assert after.content == good.content
        own = httpx.get(f"{served.url}/metrics/self").text
        assert "focusflow_exporter_fetch_errors_total 1" in own
        metrics = httpx.get(f"{served.url}/metrics").text
        assert metrics.count("\nbilled_cost{") == 2 and "focusflow_" not in metrics
        # No hot loop: a transient failure backs off from 1 s; bad content waits the interval.
        delay = served.exporter.next_delay(False)
        if fault in ("500", "timeout"):
            assert 1.0 <= delay <= 2.0
        else:
            assert delay == 3600
        # ... and the source recovering gives a new snapshot.
        upstream.release.clear()
        upstream.respond(200, SMALL + b"2026-05-01T00:00:00Z,2026-05-01T02:00:00Z,3,VM\n")
        assert served.exporter.poll_once()
        assert httpx.get(f"{served.url}/rows").headers["etag"] != good.headers["etag"]


def _hold_duckdb_lock(path: Path) -> subprocess.Popen[str]:
    """Another process holding the DuckDB file: every open from here fails until it exits."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
         "print('locked', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_database_down_is_retried_without_loss_or_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "focus.duckdb"
    database = f"duckdb:///{path}"
    with serve({"source": str(AWS)}) as served:
        assert served.exporter.poll_once()
        scraper = scraper_for(served.url, database)
        holder = _hold_duckdb_lock(path)
        try:
            with pytest.raises(TransientSinkError):
                scraper.scrape_once()
            # The retry loop: it keeps failing (with backoff) while the lock is held ...
            stop = threading.Event()
            done: list[bool] = []
            worker = threading.Thread(target=lambda: done.append(scraper.run(stop, once=True)))
            worker.start()
            while scraper.stats.errors < 1 and worker.is_alive():
                worker.join(0.05)
        finally:
            assert holder.stdin is not None and holder.stdout is not None
            holder.stdin.close()  # ... the database comes back
            holder.wait(30)
            holder.stdout.close()
        worker.join(60)
        assert done == [True] and scraper.stats.loads == 1
        assert read(database, "focus").num_rows == 2000
        assert scraper.scrape_once() is None  # 304: no second write
        # A new scraper (a restarted pod) fetches the same snapshot: the sink skips it.
        again = scraper_for(served.url, database).scrape_once()
        assert again is not None and again.unchanged
        assert read(database, "focus").num_rows == 2000


def test_snapshot_cut_short_loads_nothing(upstream: Upstream, tmp_path: Path) -> None:
    """The exporter dies mid-transfer: the Arrow stream is incomplete, nothing is written."""
    with serve({"source": str(AWS)}) as served:
        assert served.exporter.poll_once()
        snapshot = served.exporter.holder.current
        assert snapshot is not None
    body = arrow_ipc(snapshot.decoded.rows)
    headers = {"ETag": f'"{snapshot.id}"'}
    database = f"duckdb:///{tmp_path / 'focus.duckdb'}"
    scraper = scraper_for(upstream.url, database)
    for cut in (len(body) // 2, len(body) - 8):
        upstream.respond(200, body, "application/vnd.apache.arrow.stream", headers=headers,
                         truncate=cut)
        with pytest.raises(TransientSourceError):
            scraper.scrape_once()
        with pytest.raises(FocusflowError, match="does not exist"):
            read(database, "focus")
    # Complete bytes, but the end-of-stream marker missing (the writer was killed).
    upstream.respond(200, body[:-8], "application/vnd.apache.arrow.stream", headers=headers)
    with pytest.raises(TransientSourceError, match="end-of-stream"):
        scraper.scrape_once()
    with pytest.raises(FocusflowError, match="does not exist"):
        read(database, "focus")
    upstream.respond(200, body, "application/vnd.apache.arrow.stream", headers=headers)
    result = scraper.scrape_once()
    assert result is not None and result.rows_written == 2000


TOKEN = "tok-SECRET-7f3a9"
PASSWORD = "pw-SECRET-c41d2"


def test_secrets_never_appear_in_logs_metrics_or_errors(
    upstream: Upstream, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = tmp_path / "secrets"
    config = _endpoint(upstream, secrets, token=TOKEN)
    write_secret(secrets, "ns", "pg", {"password": PASSWORD})
    messages: list[str] = []
    with caplog.at_level(logging.DEBUG), serve(config, secrets) as served:
        for status in (401, 403, 500):
            upstream.respond(status, f"denied {TOKEN}".encode())
            assert not served.exporter.poll_once()
            messages.append(served.exporter.stats.last_error)
        upstream.respond(200, SMALL)
        assert served.exporter.poll_once()
        assert upstream.requests[-1][2]["Authorization"] == f"Bearer {TOKEN}"
        metrics = httpx.get(f"{served.url}/metrics").text
        metrics += httpx.get(f"{served.url}/metrics/self").text
        rows_csv = httpx.get(f"{served.url}/rows?format=csv").text

        # A database whose password comes from a Secret, unreachable: retried, never shown.
        store = DirectorySecretStore(secrets)
        db = DatabaseConfig.model_validate({
            "type": "postgres", "host": "127.0.0.1", "port": 1, "database": "x",
            "username": "u", "passwordSecretRef": {"name": "pg", "namespace": "ns",
                                                   "key": "password"}})
        url = database_url(db, store, None)
        assert PASSWORD in url.get_secret_value()
        scraper = Scraper(
            ScraperConfig.parse({"tableName": "focus", "pollingInterval": "1h",
                                 "exporterUrl": served.url}, where="t"),
            endpoint_resolver(secrets), lambda: SecretStr(url.get_secret_value()), "s")
        with pytest.raises(FocusflowError) as caught:
            scraper.scrape_once()
        messages.append(str(caught.value))
    captured = caplog.text + "\n".join(messages) + metrics + rows_csv
    assert "HTTP 401" in captured and "postgres" in captured
    assert TOKEN not in captured and PASSWORD not in captured
    assert all(TOKEN not in repr(r.args) and PASSWORD not in repr(r.args)
               for r in caplog.records)


def test_table_written_through_the_scraper_keeps_typed_arrow(tmp_path: Path) -> None:
    with serve({"source": str(AWS)}) as served:
        assert served.exporter.poll_once()
        body = httpx.get(f"{served.url}/rows").content
    table = pa.ipc.open_stream(body).read_all()
    assert table.schema.field("BilledCost").type == pa.decimal128(38, 18)
    assert table.schema.field("Tags").metadata == {b"focus.type": b"JSON"}


def test_metrics_gzip_is_one_stream_equal_to_the_plain_body(tmp_path: Path) -> None:
    import gzip  # noqa: PLC0415

    with serve({"source": str(AWS)}) as served:
        assert served.exporter.poll_once()
        url = f"{served.url}/metrics"
        plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
        with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
            assert response.headers["content-encoding"] == "gzip"
            raw = b"".join(response.iter_raw())
    assert "content-encoding" not in plain.headers
    text = gzip.decompress(raw)
    assert text == plain.content and text.count(b"\nbilled_cost{") == 2000
    assert len(raw) < len(plain.content) / 5 and b"focusflow_" not in text


def test_lazy_metrics_render_error_is_an_empty_page_and_one_line(
        caplog: pytest.LogCaptureFixture) -> None:
    """A ``run`` pipeline renders /metrics on first request, as the body's first step: a bad
    ``aggregateBy`` gives an empty data page and one error line, and the server stays up."""
    from focusflow.exporter import Exporter, ExporterConfig, build_source  # noqa: PLC0415
    from focusflow.runtime import HttpServer  # noqa: PLC0415

    config = ExporterConfig.parse({"source": str(sample("focus_1_2_cost_and_usage_aws.csv")),
                                   "pollingInterval": "1h", "aggregateBy": ["NoSuchColumn"]},
                                  where="test")
    exporter = Exporter(config, build_source(config, endpoint_resolver(None), None),
                        eager_metrics=False)
    assert exporter.poll_once()
    server = HttpServer("127.0.0.1:0", exporter.routes()).start()
    url = f"http://127.0.0.1:{server.port}"
    try:
        with caplog.at_level(logging.ERROR):
            for encoding in ("gzip", "identity"):
                page = httpx.get(f"{url}/metrics", headers={"Accept-Encoding": encoding})
                assert (page.status_code, page.content) == (200, b"")  # gzip: decoded
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/rows").status_code == 200  # the rows are fine
    finally:
        server.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2 and all("NoSuchColumn" in e for e in errors)
