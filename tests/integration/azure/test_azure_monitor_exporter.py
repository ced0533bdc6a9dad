"""Azure Monitor metrics and Krateo-shaped exporter configs against the Azure API emulator."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from fixtures.azure_api import CLIENT_SECRET, AzureApi
from fixtures.azure_exports import csv_gz, read_rows
from focusflow.errors import ConfigError
from focusflow.exporter import Exporter, ExporterConfig, build_source
from focusflow.runtime import HttpServer, endpoint_resolver
from focusflow.sources.azure import STORAGE, ArmClient, AzureSettings, ClientCredentials
from focusflow.sources.azure.krateo import (
    AzureBlobApiSource,
    AzureCostQuerySource,
    AzureMetricsSource,
)
from focusflow.sources.azure.monitor import MetricsQuery, fetch_metrics, sliding_timespan

pytestmark = pytest.mark.integration

SUB = "00000000-1111-2222-3333-444444444444"
VM = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm01"
NOW = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def monitor_payload() -> dict[str, Any]:
    return {
        "cost": 0, "timespan": "", "interval": "PT15M",
        "namespace": "Microsoft.Compute/virtualMachines", "resourceregion": "westeurope",
        "value": [{
            "id": f"{VM}/providers/Microsoft.Insights/metrics/Percentage CPU",
            "type": "Microsoft.Insights/metrics",
            "name": {"value": "Percentage CPU", "localizedValue": "Percentage CPU"},
            "displayDescription": "CPU", "unit": "Percent", "errorCode": "Success",
            "timeseries": [{"metadatavalues": [], "data": [
                {"timeStamp": "2026-05-28T19:00:00Z", "average": 1.25},
                {"timeStamp": "2026-05-28T19:15:00Z"},  # no data: must stay NULL
                {"timeStamp": "2026-05-28T19:30:00Z", "average": 0},
            ]}]}],
    }


@pytest.fixture
def monitored(azure_api: AzureApi) -> AzureApi:
    azure_api.state.metrics = {VM.lower(): monitor_payload()}
    return azure_api


def test_sliding_timespan_is_recomputed_per_poll() -> None:
    query = MetricsQuery(resource_id=VM, metric_names="Percentage CPU", interval="PT15M",
                         lookback="PT2H")
    assert sliding_timespan(query, NOW) == "2026-05-28T18:15:00Z/2026-05-28T20:15:00Z"
    assert sliding_timespan(query, NOW + 3600) == "2026-05-28T19:15:00Z/2026-05-28T21:15:00Z"


def test_fetch_metrics_keeps_gaps_null(monitored: AzureApi, azure_settings: AzureSettings) -> None:
    client = ArmClient(ClientCredentials(azure_settings), azure_settings)
    query = MetricsQuery(resource_id=VM, metric_names=["Percentage CPU"], lookback="PT2H")
    clock = [NOW]
    first = fetch_metrics(client, query, clock=lambda: clock[0])
    clock[0] += 900
    fetch_metrics(client, query, clock=lambda: clock[0])
    assert first.column("average").to_pylist() == [1.25, None, 0.0]
    assert first.column("metricName").to_pylist() == ["Percentage CPU"] * 3
    assert set(first.column("ResourceId").to_pylist()) == {VM}
    spans = [r.query["timespan"][0] for r in monitored.state.requests if "metrics" in r.path]
    assert spans == ["2026-05-28T18:15:00Z/2026-05-28T20:15:00Z",
                     "2026-05-28T18:30:00Z/2026-05-28T20:30:00Z"]


def metrics_text(exporter: Exporter) -> str:
    """The exporter's /metrics page as a scraper sees it, without its own health series."""
    server = HttpServer("127.0.0.1:0", exporter.routes()).start()
    try:
        text = httpx.get(f"http://127.0.0.1:{server.port}/metrics").text
    finally:
        server.stop()
    return "\n".join(line for line in text.splitlines() if "focusflow_exporter_" not in line)


def secret(folder: Path, name: str, values: dict[str, str]) -> None:
    target = folder / "finops" / name
    target.mkdir(parents=True, exist_ok=True)
    for key, value in values.items():
        (target / key).write_text(value)


def test_krateo_resource_exporter_slides_and_keeps_gaps(
    monitored: AzureApi, tmp_path: Path,
) -> None:
    monitored.state.valid_tokens.add("krateo-refreshed-token")
    secret(tmp_path, "azure-management-api", {
        "server-url": monitored.url, "token": "krateo-refreshed-token",
        "certificate-authority-data": monitored.ca.ca_file.read_text()})
    config = ExporterConfig.parse({
        "pollingInterval": "1h", "metricType": "resource",
        "additionalVariables": {"ResourceId": VM},
        "api": {"path": "<ResourceId>/providers/microsoft.insights/metrics?api-version="
                        "2023-10-01&metricnames=Percentage%20CPU&timespan=2025-06-04/"
                        "2025-06-05&interval=PT15M",
                "verb": "GET",
                "endpointRef": {"name": "azure-management-api", "namespace": "finops"}},
    }, where="test")
    source = build_source(config, endpoint_resolver(tmp_path))
    assert isinstance(source, AzureMetricsSource)
    exporter = Exporter(config, source)
    assert exporter.poll_once(), exporter.stats.last_error
    request = next(r for r in monitored.state.requests if "metrics" in r.path)
    span = request.query["timespan"][0]
    assert not span.startswith("2025-06-04")  # recomputed, one day long like the configured
    assert request.headers["authorization"] == "Bearer krateo-refreshed-token"
    snapshot = exporter.holder.current
    assert snapshot is not None
    assert snapshot.rows == 3
    samples = [line for line in metrics_text(exporter).splitlines()
               if line and not line.startswith("#")]
    assert len(samples) == 2  # the gap gets no sample (not a 0)


def test_krateo_cost_query_exporter_with_own_credentials(
    azure_api: AzureApi, azure_settings: AzureSettings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    state = azure_api.state
    state.subscriptions = {SUB}
    state.query_columns = [{"name": "Cost", "type": "Number"},
                           {"name": "UsageDate", "type": "Number"},
                           {"name": "ServiceName", "type": "String"},
                           {"name": "Currency", "type": "String"}]
    state.query_rows = [[1.5 + i, 20260901 + i, f"svc{i}", "USD"] for i in range(7)]
    state.page_size = 3
    for key, value in {"AZURE_TENANT_ID": azure_settings.tenant_id,
                       "AZURE_CLIENT_ID": azure_settings.client_id,
                       "AZURE_CLIENT_SECRET": CLIENT_SECRET,
                       "AZURE_AUTHORITY_HOST": azure_api.url,
                       "AZURE_CA_FILE": str(azure_api.ca.ca_file)}.items():
        monkeypatch.setenv(key, str(value))
    secret(tmp_path, "azure-management-api", {
        "server-url": azure_api.url,
        "certificate-authority-data": azure_api.ca.ca_file.read_text()})
    body = {"type": "ActualCost", "timeframe": "MonthToDate",
            "dataset": {"granularity": "Daily",
                        "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
                        "grouping": [{"type": "Dimension", "name": "ServiceName"}]}}
    config = ExporterConfig.parse({
        "pollingInterval": "1h", "metricType": "cost",
        "additionalVariables": {"subscription_id": SUB},
        "api": {"path": "/subscriptions/<subscription_id>/providers/Microsoft.CostManagement/"
                        "query?api-version=2025-03-01", "verb": "POST",
                "payload": orjson.dumps(body).decode(),
                "endpointRef": {"name": "azure-management-api", "namespace": "finops"}},
    }, where="test")
    source = build_source(config, endpoint_resolver(tmp_path))
    assert isinstance(source, AzureCostQuerySource)
    exporter = Exporter(config, source)
    assert exporter.poll_once(), exporter.stats.last_error
    assert exporter.poll_once()
    snapshot = exporter.holder.current
    assert snapshot is not None
    assert snapshot.rows == 7  # three pages, every row once
    assert "billed_cost" in metrics_text(exporter)
    assert len(state.token_requests()) == 1  # cached across polls
    assert CLIENT_SECRET not in caplog.text
    assert all(token not in caplog.text for token in state.issued_tokens)


def test_krateo_cost_query_bad_payload(azure_api: AzureApi, tmp_path: Path) -> None:
    azure_api.state.valid_tokens.add("t")
    secret(tmp_path, "ep", {"server-url": azure_api.url, "token": "t",
                            "certificate-authority-data": azure_api.ca.ca_file.read_text()})
    config = ExporterConfig.parse({
        "pollingInterval": "1h",
        "api": {"path": f"/subscriptions/{SUB}/providers/Microsoft.CostManagement/query",
                "verb": "POST", "payload": "{not json",
                "endpointRef": {"name": "ep", "namespace": "finops"}}}, where="test")
    source = build_source(config, endpoint_resolver(tmp_path))
    with pytest.raises(ConfigError, match="payload is not JSON"):
        source.fetch()


@pytest.mark.parametrize("with_token", [True, False])
def test_krateo_blob_path_reads_with_bearer_tokens(  # noqa: PLR0917 - fixtures
    azurite_container: Any, azurite_server: str, azure_api: AzureApi,
    azure_settings: AzureSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    with_token: bool,
) -> None:
    """Krateo's blob exporter (x-ms-version, token) against Azurite, which checks the token."""
    header, rows = read_rows()
    azurite_container.upload_blob("focus/exports/static-export.csv",
                                  gzip.decompress(csv_gz(header, rows[:40])))
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_URL", azurite_server)  # an IP-style account URL
    values = {"server-url": azurite_server}
    if with_token:  # Krateo: someone else refreshes the token into the Secret
        values["token"] = ClientCredentials(azure_settings).token(STORAGE).get_secret_value()
    else:  # focusflow's own client credentials from the pod environment
        for key, value in {"AZURE_TENANT_ID": azure_settings.tenant_id,
                           "AZURE_CLIENT_ID": azure_settings.client_id,
                           "AZURE_CLIENT_SECRET": CLIENT_SECRET,
                           "AZURE_AUTHORITY_HOST": azure_api.url,
                           "AZURE_CA_FILE": str(azure_api.ca.ca_file)}.items():
            monkeypatch.setenv(key, str(value))
    secret(tmp_path, "azure-storage-account", values)
    config = ExporterConfig.parse({
        "pollingInterval": "1h", "metricType": "cost",
        "api": {"path": f"/{azurite_container.container_name}/focus/exports/static-export.csv",
                "verb": "GET", "headers": ["x-ms-version: 2019-12-12"],
                "endpointRef": {"name": "azure-storage-account", "namespace": "finops"}},
    }, where="test")
    source = build_source(config, endpoint_resolver(tmp_path))
    assert isinstance(source, AzureBlobApiSource)
    exporter = Exporter(config, source)
    assert exporter.poll_once(), exporter.stats.last_error
    assert exporter.holder.current is not None
    assert exporter.holder.current.rows == 40
    assert len(azure_api.state.token_requests()) == 1
