"""FOCUS exports in Blob storage (Azurite): manifest-driven, newest run per period, one load."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from azure.storage.blob import ContainerSasPermissions, generate_container_sas
from typer.testing import CliRunner

from fixtures.azure_exports import (
    RESOURCE_ID,
    ExportWriter,
    csv_gz,
    read_rows,
    restate,
    split_rows,
    totals,
)
from fixtures.azurite import ACCOUNT, KEY
from focusflow.cli import app
from focusflow.errors import ConfigError, InputError, SinkError, SourceError
from focusflow.ingest import IngestOptions, ingest_location, ingest_planned
from focusflow.sinks import Sink, open_sink
from focusflow.sources.azure import plan_exports
from focusflow.sources.azure.credentials import clear_shared_credentials

pytestmark = pytest.mark.integration

MAY = "20260501-20260531"


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    opened = open_sink(f"duckdb:///{tmp_path / 'focus.duckdb'}")
    yield opened
    opened.close()


def table_totals(sink: Sink) -> dict[str, tuple[int, Decimal]]:
    rows = sink.query("focus", 'SELECT "BillingCurrency" AS c, COUNT(*) AS n, '
                      'SUM("BilledCost") AS s FROM {table} GROUP BY 1').to_pylist()
    return {r["c"]: (r["n"], r["s"]) for r in rows}


def two_runs(container: Any) -> tuple[ExportWriter, list[dict[str, str]]]:
    """May: a first run (one part) and a restated second run (three parts) plus a stray part."""
    header, rows = read_rows()
    writer = ExportWriter(container)
    writer.run(MAY, "2026-05-20T04:01:02.1234567Z", [csv_gz(header, rows[:900])])
    second = restate(rows, "1.1")
    parts = split_rows(second, 3)
    writer.run(MAY, "2026-05-21T04:00:59.7654321Z", [csv_gz(header, p) for p in parts],
               rows=[len(p) for p in parts], stray=csv_gz(header, rows[:50]))
    return writer, second


def test_newest_run_only_once_and_idempotent(azurite_container: Any, sink: Sink) -> None:
    _, second = two_runs(azurite_container)
    uri = f"az://{azurite_container.container_name}/focus"
    outcomes = ingest_location(uri, sink, IngestOptions())
    assert len(outcomes) == 1  # one load for (export, May)
    assert outcomes[0].source_id == f"azure-export:{RESOURCE_ID}"
    assert table_totals(sink) == totals(second)
    assert set(totals(second)) == {"USD", "EUR"}
    again = ingest_location(uri, sink, IngestOptions())
    assert again[0].result.unchanged
    # The run identity is known: only the first part's header is peeked, nothing loaded.
    assert again[0].bytes_read < outcomes[0].bytes_read / 2
    assert table_totals(sink) == totals(second)


def test_third_run_replaces_the_month(azurite_container: Any, sink: Sink) -> None:
    writer, _ = two_runs(azurite_container)
    uri = f"az://{azurite_container.container_name}/focus/"
    ingest_location(uri, sink, IngestOptions())
    header, rows = read_rows()
    third = restate(rows[:700], "0.5")
    writer.run(MAY, "2026-06-02T03:00:00Z", [csv_gz(header, p) for p in split_rows(third, 2)])
    outcome = ingest_location(uri, sink, IngestOptions())[0]
    assert outcome.result.rows_replaced == 1500
    assert table_totals(sink) == totals(third)


def test_runs_of_two_months_are_two_loads(azurite_container: Any, sink: Sink) -> None:
    header, rows = read_rows()
    june = [dict(r, BillingPeriodStart="2026-06-01T00:00:00Z",
                 BillingPeriodEnd="2026-07-01T00:00:00Z") for r in rows[:300]]
    writer = ExportWriter(azurite_container)
    writer.run(MAY, "2026-06-03T00:00:00Z", [csv_gz(header, rows[:400])])
    writer.run("20260601-20260630", "2026-06-03T00:00:01Z", [csv_gz(header, june)])
    plans = plan_exports(f"az://{azurite_container.container_name}/focus")
    assert plans is not None
    assert [len(p.parts) for p in plans] == [1, 1]
    outcomes = ingest_location(f"az://{azurite_container.container_name}/focus", sink,
                               IngestOptions())
    assert [o.result.rows_written for o in outcomes] == [400, 300]


def test_cli_ingest_az_url(azurite_container: Any, tmp_path: Path) -> None:
    _, second = two_runs(azurite_container)
    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(app, ["ingest", f"az://{azurite_container.container_name}/focus",
                                      "--db", f"duckdb:///{db}"])
    assert result.exit_code == 0, result.output
    assert "2026-05" in result.output
    check = open_sink(f"duckdb:///{db}")
    try:
        assert table_totals(check) == totals(second)
    finally:
        check.close()


def test_single_blob_path_loads_that_file(azurite_container: Any, sink: Sink) -> None:
    header, rows = read_rows()
    azurite_container.upload_blob("adhoc/may.csv.gz", csv_gz(header, rows[:10]))
    uri = f"az://{azurite_container.container_name}/adhoc/may.csv.gz"
    outcomes = ingest_location(uri, sink, IngestOptions())
    assert outcomes[0].source_id == uri
    assert table_totals(sink) == totals(rows[:10])


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda m: {**m, "blobs": [*m["blobs"], {"blobName": "focus/missing.csv.gz",
                                              "byteCount": 10}], "blobCount": 4,
                "byteCount": m["byteCount"] + 10},
     "lists blob 'focus/missing.csv.gz', which does not exist"),
    (lambda m: {**m, "blobs": [{**m["blobs"][0], "byteCount": m["blobs"][0]["byteCount"] + 1},
                               *m["blobs"][1:]], "byteCount": m["byteCount"] + 1},
     "bytes, but it holds"),
    (lambda m: {**m, "blobCount": 7}, "blobCount is 7 but 3 blobs are listed"),
    (lambda m: {k: v for k, v in m.items() if k != "runInfo"}, "not an export manifest"),
])
def test_bad_manifest_commits_nothing(
    azurite_container: Any, sink: Sink, edit: Any, expected: str,
) -> None:
    header, rows = read_rows()
    writer = ExportWriter(azurite_container)
    writer.run(MAY, "2026-05-20T00:00:00Z", [csv_gz(header, rows[:100])])
    uri = f"az://{azurite_container.container_name}/focus"
    ingest_location(uri, sink, IngestOptions())
    writer.run(MAY, "2026-05-21T00:00:00Z",
               [csv_gz(header, p) for p in split_rows(rows, 3)], manifest_edit=edit)
    with pytest.raises(InputError, match=expected) as caught:
        ingest_location(uri, sink, IngestOptions())
    assert "manifest.json" in str(caught.value)
    assert table_totals(sink) == totals(rows[:100])


def test_malformed_manifest_json(azurite_container: Any, sink: Sink) -> None:
    azurite_container.upload_blob("focus/x/20260501-20260531/1/r/manifest.json", b"{not json")
    with pytest.raises(InputError, match=r"manifest\.json: not JSON"):
        ingest_location(f"az://{azurite_container.container_name}/focus", sink, IngestOptions())


def test_part_changed_while_reading_commits_nothing(azurite_container: Any, sink: Sink) -> None:
    """The reader re-checks each part's size as it streams (a part replaced after listing)."""
    header, rows = read_rows()
    folder = ExportWriter(azurite_container).run(MAY, "2026-05-20T00:00:00Z",
                                                [csv_gz(header, p) for p in split_rows(rows, 2)])
    plans = plan_exports(f"az://{azurite_container.container_name}/{folder}/manifest.json")
    assert plans is not None
    azurite_container.upload_blob(f"{folder}/part_0_0002.csv.gz", csv_gz(header, rows[:5]),
                                  overwrite=True)
    with pytest.raises(InputError, match="but the manifest lists"):
        ingest_planned(plans[0], sink, IngestOptions())
    with pytest.raises(SinkError, match="does not exist"):
        table_totals(sink)  # nothing was committed, not even the table


def test_missing_container_and_missing_settings(
    azurite_env: str, sink: Sink, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SourceError, match="no such blob or container"):
        ingest_location("az://no-such-container/focus", sink, IngestOptions())
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    with pytest.raises(ConfigError, match="AZURE_STORAGE_CONNECTION_STRING"):
        ingest_location("az://c/focus", sink, IngestOptions())


def test_entra_id_storage_token_instead_of_a_key(  # noqa: PLR0917 - fixtures
    azurite_container: Any, azurite_server: str, azure_api: Any, azure_settings: Any,
    sink: Sink, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Account name + client credentials: a storage-scoped token from the token endpoint."""
    caplog.set_level(logging.DEBUG)
    _, second = two_runs(azurite_container)
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    secret = azure_settings.client_secret.get_secret_value()
    for key, value in {"AZURE_STORAGE_ACCOUNT": "devstoreaccount1",
                       "AZURE_STORAGE_ACCOUNT_URL": azurite_server,
                       "AZURE_TENANT_ID": azure_settings.tenant_id,
                       "AZURE_CLIENT_ID": azure_settings.client_id,
                       "AZURE_CLIENT_SECRET": secret,
                       "AZURE_AUTHORITY_HOST": azure_api.url,
                       "AZURE_CA_FILE": str(azure_api.ca.ca_file)}.items():
        monkeypatch.setenv(key, value)
    ingest_location(f"az://{azurite_container.container_name}/focus", sink, IngestOptions())
    assert table_totals(sink) == totals(second)
    requests = azure_api.state.token_requests()
    assert len(requests) == 1
    assert b"scope=https%3A%2F%2Fstorage.azure.com%2F.default" in requests[0].body
    for value in (*azure_api.state.issued_tokens, secret):
        assert value not in caplog.text
    # A token the storage account refuses (401) costs exactly one new token request.
    clear_shared_credentials()
    azure_api.state.expire_next_jwt = True
    ingest_location(f"az://{azurite_container.container_name}/focus", sink, IngestOptions())
    assert len(azure_api.state.token_requests()) == 3
    assert "storage token was refused" in caplog.text
    assert table_totals(sink) == totals(second)


def test_snappy_parquet_parts(azurite_container: Any, sink: Sink) -> None:
    header, rows = read_rows()
    parts = []
    for chunk in split_rows(rows[:600], 2):
        buffer = io.BytesIO()
        pq.write_table(pa.table({name: [r[name] or None for r in chunk] for name in header}),
                       buffer, compression="snappy")
        parts.append(buffer.getvalue())
    ExportWriter(azurite_container).run(MAY, "2026-05-20T00:00:00Z", parts,
                                        suffix=".snappy.parquet")
    outcomes = ingest_location(f"az://{azurite_container.container_name}/focus", sink,
                               IngestOptions())
    assert outcomes[0].result.rows_written == 600
    assert table_totals(sink) == totals(rows[:600])


def test_https_url_with_sas_under_the_account_url(
    azurite_container: Any, azurite_server: str, sink: Sink, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An https URL carrying a SAS: the manifest flow runs, the SAS never shows in names."""
    _, second = two_runs(azurite_container)
    sas = generate_container_sas(
        ACCOUNT, azurite_container.container_name, account_key=KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1))
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_URL", azurite_server)
    uri = f"{azurite_server}/{azurite_container.container_name}/focus?{sas}"
    outcomes = ingest_location(uri, sink, IngestOptions())
    assert table_totals(sink) == totals(second)
    signature = dict(parse_qsl(sas))["sig"]
    assert all(signature not in o.name and signature not in o.source_id for o in outcomes)
