"""``focusflow azure query|metrics`` with credential flags and a mounted Secret folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fixtures.azure_api import CLIENT_ID, CLIENT_SECRET, TENANT, AzureApi
from focusflow.cli import app
from focusflow.errors import SourceError
from focusflow.sinks import open_sink

pytestmark = pytest.mark.integration

SUB = "00000000-1111-2222-3333-444444444444"
VM = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm01"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                 "AZURE_AUTHORITY_HOST", "AZURE_RESOURCE_MANAGER_URL", "AZURE_CA_FILE"):
        monkeypatch.delenv(name, raising=False)


def endpoints(api: AzureApi) -> list[str]:
    return ["--authority-host", api.url, "--resource-manager-url", api.url,
            "--ca-file", str(api.ca.ca_file)]


def test_query_with_a_mounted_secret_folder(
    azure_api: AzureApi, tmp_path: Path, clean_env: None,
) -> None:
    state = azure_api.state
    state.subscriptions = {SUB}
    state.query_columns = [{"name": "PreTaxCost", "type": "Number"},
                           {"name": "ResourceGroup", "type": "String"},
                           {"name": "UsageDate", "type": "Number"},
                           {"name": "Currency", "type": "String"},
                           {"name": "TagKey", "type": "String"},
                           {"name": "TagValue", "type": "String"}]
    state.query_rows = [[2.10333307059661, "ScreenSharingTest-peer", 20180331, "USD", "env",
                         "prod"], [0.14384913581657052, "ssbciotelement01", 20180401, "USD",
                                   "env", "dev"]]
    folder = tmp_path / "secret"
    folder.mkdir()
    for key, value in {"tenantId": TENANT, "clientId": CLIENT_ID,
                       "clientSecret": CLIENT_SECRET + "\n"}.items():
        (folder / key).write_text(value)
    db = tmp_path / "q.duckdb"
    result = CliRunner().invoke(app, [
        "azure", "query", f"subscriptions/{SUB}", "--type", "Usage", "--from", "2018-03-01",
        "--to", "2018-04-30", "--group-by", "ResourceGroup", "--group-by", "tag:env",
        "--db", f"duckdb:///{db}", "--credentials-dir", str(folder), *endpoints(azure_api)])
    assert result.exit_code == 0, result.output
    assert "2018-03" in result.output and "2018-04" in result.output
    sink = open_sink(f"duckdb:///{db}")
    try:
        rows = sink.query("focus", 'SELECT "Tags", "x_ResourceGroupName", "BilledCost" '
                          'FROM {table} ORDER BY 3').to_pylist()
    finally:
        sink.close()
    assert [r["x_ResourceGroupName"] for r in rows] == ["ssbciotelement01",
                                                       "ScreenSharingTest-peer"]
    assert '"env"' in str(rows[0]["Tags"])
    body = state.query_requests()[0].body.decode()
    assert '"grouping":[{"type":"Dimension","name":"ResourceGroup"},' \
           '{"type":"TagKey","name":"env"}]' in body.replace(" ", "")


def test_metrics_with_flags(azure_api: AzureApi, clean_env: None, tmp_path: Path) -> None:
    azure_api.state.metrics = {VM.lower(): {"value": [{
        "name": {"value": "Percentage CPU"}, "unit": "Percent", "errorCode": "Success",
        "timeseries": [{"data": [{"timeStamp": "2026-05-28T19:00:00Z", "average": 3.5},
                                 {"timeStamp": "2026-05-28T19:15:00Z"}]}]}]}}
    out = tmp_path / "m.csv"
    result = CliRunner().invoke(app, [
        "azure", "metrics", VM, "--metric", "Percentage CPU", "--lookback", "PT1H",
        "--tenant-id", TENANT, "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
        "--out", str(out), *endpoints(azure_api)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    assert lines[2].endswith(',,"Percent"')  # the gap stays empty, not 0


def test_wrong_secret_names_tenant_and_client(azure_api: AzureApi, clean_env: None) -> None:
    result: Any = CliRunner().invoke(app, [
        "azure", "metrics", VM, "--metric", "x", "--tenant-id", TENANT, "--client-id",
        CLIENT_ID, "--client-secret", "nope-wrong", *endpoints(azure_api)])
    assert isinstance(result.exception, SourceError)
    message = str(result.exception)
    assert TENANT in message and CLIENT_ID in message and "nope-wrong" not in message
