"""Exporter → scraper → DuckDB / PostgreSQL equals a direct ingest; restatements replace rows;
unchanged snapshots write nothing. The source is a real HTTP endpoint reached through a Krateo
``api`` block and an endpoint Secret directory."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest

from fixtures.exporter_pipeline import (
    direct_ingest,
    read,
    rows,
    sample,
    scraper_for,
    serve,
    write_secret,
)
from fixtures.upstream_http import Upstream
from focusflow.sinks import open_sink

pytestmark = pytest.mark.integration

AWS = sample("focus_1_2_cost_and_usage_aws.csv")


def restated(path: Path, tmp_path: Path) -> Path:
    """The report with its last 500 rows removed and one cost changed (a restatement)."""
    reader = list(csv.reader(io.StringIO(path.read_text())))
    header, body = reader[0], reader[1:-500]
    body[0][header.index("BilledCost")] = "12345.678901"
    out = tmp_path / "restated.csv"
    with out.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *body])
    return out


def _api_config(upstream: Upstream, secrets: Path) -> dict[str, object]:
    write_secret(secrets, "krateo-system", "report-endpoint",
                 {"server-url": upstream.url + "/<container>", "token": "t0ken"})
    return {"api": {"path": "/<file>", "verb": "GET", "headers": ["X-Api-Version: 2025-06-01"],
                    "endpointRef": {"name": "report-endpoint", "namespace": "krateo-system"}},
            "additionalVariables": {"container": "focus", "file": "export.csv"}}


def _load_count(database: str) -> int:
    sink = open_sink(database)
    try:
        table = sink.query("_focusflow_loads", "SELECT COUNT(*) AS n FROM {table}")
        return int(table.column("n")[0].as_py())
    finally:
        sink.close()


def _round_trip(database: str, upstream: Upstream, tmp_path: Path) -> None:
    upstream.respond(200, AWS.read_bytes(), "application/octet-stream")
    with serve(_api_config(upstream, tmp_path / "secrets"), tmp_path / "secrets") as served:
        assert served.exporter.poll_once()
        method, path, headers = upstream.requests[-1]
        assert (method, path) == ("GET", "/focus/export.csv")
        assert headers["Authorization"] == "Bearer t0ken"
        assert headers["X-Api-Version"] == "2025-06-01"

        scraper = scraper_for(served.url, database)
        first = scraper.scrape_once()
        assert first is not None and first.rows_written == 2000
        loaded = read(database, "focus")
        expected = direct_ingest(AWS, database)
        assert loaded.schema.names == expected.schema.names
        assert loaded.schema.types == expected.schema.types
        assert rows(loaded) == rows(expected)  # every column, every row, duplicates kept

        # Unchanged source: a 304 and no write at all.
        loads = _load_count(database)
        assert scraper.scrape_once() is None
        assert served.exporter.poll_once()
        assert scraper.scrape_once() is None
        assert _load_count(database) == loads and scraper.stats.unchanged == 2

        # Restated source: the new rows replace the old ones for that billing period.
        changed = restated(AWS, tmp_path)
        upstream.respond(200, changed.read_bytes(), "text/csv")
        assert served.exporter.poll_once()
        second = scraper.scrape_once()
        assert second is not None and second.rows_replaced == 2000
        assert rows(read(database, "focus")) == rows(direct_ingest(changed, database,
                                                                    "direct2"))


def test_exporter_scraper_duckdb(upstream: Upstream, tmp_path: Path) -> None:
    _round_trip(f"duckdb:///{tmp_path / 'focus.duckdb'}", upstream, tmp_path)


def test_exporter_scraper_postgres(upstream: Upstream, tmp_path: Path,
                                   postgres_url: str) -> None:
    _round_trip(postgres_url, upstream, tmp_path)


def test_exporter_scraper_delta_on_s3(upstream: Upstream, tmp_path: Path,
                                      s3_bucket: str) -> None:
    """Into Delta Lake on a real (moto) S3 server: one table version per load."""
    from deltalake import DeltaTable  # noqa: PLC0415 - optional driver

    database = f"delta+s3://{s3_bucket}/lake"
    upstream.respond(200, AWS.read_bytes(), "text/csv")
    with serve(_api_config(upstream, tmp_path / "secrets"), tmp_path / "secrets") as served:
        assert served.exporter.poll_once()
        scraper = scraper_for(served.url, database)
        assert scraper.scrape_once() is not None
        expected = direct_ingest(AWS, f"duckdb:///{tmp_path / 'direct.duckdb'}")
        loaded = read(database, "focus")
        assert rows(loaded.select(expected.column_names)) == rows(expected)
        sink = open_sink(database)
        try:
            location = sink.location  # type: ignore[attr-defined]
        finally:
            sink.close()

        def version() -> int:
            table = DeltaTable(location.table_uri("focus"),
                              storage_options=location.storage_options or None)
            return int(table.version())

        before = version()
        assert scraper.scrape_once() is None  # unchanged: no new table version
        assert served.exporter.poll_once()
        assert scraper.scrape_once() is None
        assert version() == before


def test_rows_endpoint_csv_etag_and_304(upstream: Upstream, tmp_path: Path) -> None:
    upstream.respond(200, AWS.read_bytes(), "text/csv")
    with serve(_api_config(upstream, tmp_path / "s"), tmp_path / "s") as served:
        assert httpx.get(f"{served.url}/readyz").status_code == 503
        assert served.exporter.poll_once()
        assert httpx.get(f"{served.url}/readyz").status_code == 200
        first = httpx.get(f"{served.url}/rows", params={"format": "csv"})
        assert first.headers["content-type"].startswith("text/csv")
        served_rows = list(csv.reader(io.StringIO(first.text)))
        assert served_rows == list(csv.reader(io.StringIO(AWS.read_text())))  # verbatim
        etag = first.headers["etag"]
        again = httpx.get(f"{served.url}/rows", headers={"If-None-Match": etag,
                                                          "Accept": "text/csv"})
        assert again.status_code == 304 and again.content == b""
        arrow = httpx.get(f"{served.url}/rows")
        assert arrow.headers["content-type"] == "application/vnd.apache.arrow.stream"
        assert arrow.headers["etag"] == etag


def test_scraper_falls_back_to_metrics_of_a_krateo_exporter(upstream: Upstream,
                                                            tmp_path: Path) -> None:
    """An exporter without /rows (404) is read through its /metrics exposition."""
    body = (b"ProviderName,BillingPeriodStart,ChargePeriodStart,BilledCost,ServiceName,Tags\n"
            b'AWS,2026-05-01T00:00:00Z,2026-05-01T00:00:00Z,1.5,EC2,"{""env"":""prod""}"\n'
            b"AWS,2026-05-01T00:00:00Z,2026-05-01T01:00:00Z,2.5,S3,\n")
    report = tmp_path / "r.csv"
    report.write_bytes(body)
    with serve({"source": str(report)}) as served:
        assert served.exporter.poll_once()
        exposition = httpx.get(f"{served.url}/metrics").content
    upstream.respond(200, exposition, "text/plain; version=0.0.4")
    upstream_rows_404 = upstream.url + "/krateo"

    database = f"duckdb:///{tmp_path / 'f.duckdb'}"
    scraper = scraper_for(upstream_rows_404, database, api={"path": "/metrics"})
    upstream.respond(404, b"", None)
    with pytest.raises(Exception, match="HTTP 404"):
        scraper.scrape_once()  # /rows and then /metrics both 404
    # Now /rows 404 but /metrics answers: serve per path.
    upstream.respond(200, exposition, "text/plain; version=0.0.4")
    result = scraper_for(upstream.url, database, api={"path": "/metrics.txt"}).scrape_once()
    assert result is not None and result.rows_written == 2
    table = read(database, "focus").to_pylist()
    assert sorted(float(r["BilledCost"]) for r in table) == [1.5, 2.5]
    assert {r["ServiceName"] for r in table} == {"EC2", "S3"}


def test_focusconfig_list_is_paged_through(upstream: Upstream, tmp_path: Path) -> None:
    """A Kubernetes FocusConfig list with ``continue`` tokens: every page is read (R9)."""
    import json  # noqa: PLC0415

    from fixtures.upstream_http import Reply  # noqa: PLC0415

    def page(costs: list[float], token: str) -> Reply:
        items = [{"spec": {"focusSpec": {
            "billedCost": cost, "serviceName": f"svc-{cost}",
            "billingPeriodStart": "2026-05-01T00:00:00Z",
            "tags": [{"key": "team", "value": "a"}]}}} for cost in costs]
        body = {"kind": "FocusConfigList", "metadata": {"continue": token}, "items": items}
        return Reply(200, json.dumps(body).encode(), "application/json")

    upstream.queue = [page([1.0, 2.0], "p2"), page([3.0], "p3"), page([4.5], "")]
    secrets = tmp_path / "secrets"
    write_secret(secrets, "finops", "k8s", {"server-url": upstream.url, "token": "sa"})
    config = {"api": {"path": "/apis/finops.krateo.io/v1/namespaces/finops/focusconfigs"
                      "?limit=2", "endpointRef": {"name": "k8s", "namespace": "finops"}}}
    with serve(config, secrets) as served:
        assert served.exporter.poll_once()
        snapshot = served.exporter.holder.current
        assert snapshot is not None
        assert sorted(float(v) for v in snapshot.decoded.rows.column("BilledCost").to_pylist()) \
            == [1.0, 2.0, 3.0, 4.5]
    paths = [path for _, path, _ in upstream.requests]
    assert paths[0].endswith("focusconfigs?limit=2")
    assert paths[1].endswith("limit=2&continue=p2") and paths[2].endswith("continue=p3")


def test_generic_exporter_scraped_into_duckdb(upstream: Upstream, tmp_path: Path) -> None:
    """generic rows go through /rows as text; the /metrics fallback finds the sanitised name."""
    report = tmp_path / "usage.csv"
    report.write_text("namespace,pod,cpu seconds\nshop,web-1,12.5\nshop,web-2,7\n")
    config = {"source": str(report), "metricType": "generic",
              "generic": {"metricName": "cpu usage", "valueColumnIndex": 2}}
    database = f"duckdb:///{tmp_path / 'g.duckdb'}"
    generic = {"metricType": "generic", "generic": {"metricName": "cpu usage",
                                                    "valueColumnIndex": 2}}
    with serve(config) as served:
        assert served.exporter.poll_once()
        result = scraper_for(served.url, database, table="usage", **generic).scrape_once()
        assert result is not None and result.rows_written == 2
        assert read(database, "usage").to_pylist() == [
            {"namespace": "shop", "pod": "web-1", "cpu seconds": "12.5"},
            {"namespace": "shop", "pod": "web-2", "cpu seconds": "7"}]
        exposition = httpx.get(f"{served.url}/metrics").content
    # A Krateo-style exporter answering only with its exposition.
    upstream.respond(200, exposition, "text/plain; version=0.0.4")
    fallback = scraper_for(upstream.url, database, table="usage_from_metrics", source_id="m",
                           **generic)
    loaded = fallback.scrape_once()
    assert loaded is not None and loaded.rows_written == 2
    table = read(database, "usage_from_metrics").to_pylist()
    assert sorted((r["pod"], r["value"]) for r in table) == [("web-1", 12.5), ("web-2", 7.0)]
