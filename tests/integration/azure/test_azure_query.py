"""Cost Management Query API source against the Azure API emulator (HTTPS, test CA)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fixtures.azure_api import CLIENT_SECRET, AzureApi
from focusflow.cli import app
from focusflow.errors import ConfigError, SinkError, SourceError
from focusflow.ingest import IngestOptions, ingest_location
from focusflow.sinks import Sink, open_sink
from focusflow.sources.azure import (
    ArmClient,
    AzureSettings,
    ClientCredentials,
    CostQuery,
    QueryStream,
    RetryRules,
)

pytestmark = pytest.mark.integration

SUB = "00000000-1111-2222-3333-444444444444"
COLUMNS = [{"name": "Cost", "type": "Number"}, {"name": "CostUSD", "type": "Number"},
           {"name": "UsageDate", "type": "Number"}, {"name": "ResourceId", "type": "String"},
           {"name": "ServiceName", "type": "String"}, {"name": "Currency", "type": "String"}]


def rows(count: int = 10) -> list[list[Any]]:
    return [[0.1 + i / 7, 0.11 + i / 7, 20260901 + i % 3, f"/subscriptions/{SUB}/vm{i}",
             "Virtual Machines" if i % 2 else "Storage", "EUR" if i % 4 == 0 else "USD"]
            for i in range(count)]


def expected_sums(data: list[list[Any]]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for row in data:
        sums[row[5]] = sums.get(row[5], Decimal(0)) + Decimal(repr(row[0]))
    return sums


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def paged(azure_api: AzureApi) -> list[list[Any]]:
    """Ten rows served as three pages (4 + 4 + 2)."""
    state = azure_api.state
    state.subscriptions = {SUB}
    state.query_columns = COLUMNS
    state.query_rows = rows()
    state.page_size = 4
    return state.query_rows


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    opened = open_sink(f"duckdb:///{tmp_path / 'q.duckdb'}")
    yield opened
    opened.close()


def client_for(settings: AzureSettings, clock: Clock | None = None,
               sleeps: list[float] | None = None) -> ArmClient:
    credentials = ClientCredentials(settings, clock=clock or Clock())
    return ArmClient(credentials, settings, rules=RetryRules(min_wait_seconds=0),
                     sleep=(sleeps.append if sleeps is not None else lambda _: None))


QUERY = CostQuery(scope=f"subscriptions/{SUB}", type="ActualCost", timeframe="Custom",
                  **{"from": "2026-09-01", "to": "2026-09-30"})


def test_three_pages_every_row_once_same_body(
    azure_api: AzureApi, azure_settings: AzureSettings, paged: list[list[Any]],
) -> None:
    table = QueryStream(client_for(azure_settings), QUERY, "q").table()
    assert table.num_rows == 10
    assert sorted(table.column("ResourceId").to_pylist()) == sorted(r[3] for r in paged)
    requests = azure_api.state.query_requests()
    assert len(requests) == 3
    assert [r.query.get("$skiptoken", ["0"])[0] for r in requests] == ["0", "4", "8"]
    bodies = [json.loads(r.body) for r in requests]
    assert bodies[0] == bodies[1] == bodies[2] == QUERY.body()
    assert bodies[0]["timePeriod"] == {"from": "2026-09-01T00:00:00Z",
                                       "to": "2026-09-30T23:59:59Z"}
    assert requests[0].headers["clienttype"] == "focusflow"


def test_columns_are_mapped_by_name(
    azure_api: AzureApi, azure_settings: AzureSettings, paged: list[list[Any]],
) -> None:
    order = [5, 3, 2, 0, 4, 1]  # the server may order columns any way
    azure_api.state.query_columns = [COLUMNS[i] for i in order]
    azure_api.state.query_rows = [[row[i] for i in order] for row in paged]
    table = QueryStream(client_for(azure_settings), QUERY, "q").table()
    first = table.slice(0, 1).to_pylist()[0]
    assert first["BilledCost"] == Decimal(repr(paged[0][0]))
    assert first["x_BilledCostInUsd"] == repr(paged[0][1])  # x_ columns stay verbatim text
    assert first["BillingCurrency"] == "EUR"
    assert first["ChargePeriodStart"].isoformat() == "2026-09-01T00:00:00+00:00"
    assert first["ChargePeriodEnd"].isoformat() == "2026-09-02T00:00:00+00:00"
    assert first["BillingPeriodStart"].isoformat() == "2026-09-01T00:00:00+00:00"
    assert first["ServiceName"] == "Storage"
    assert first["ProviderName"] == "Microsoft"
    assert first["EffectiveCost"] is None  # unmapped FOCUS columns stay null


def test_throttled_query_waits_the_longest_advertised_time(
    azure_api: AzureApi, azure_settings: AzureSettings, paged: list[list[Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    azure_api.state.throttle_next_query = {
        "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "2",
        "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after": "3",
        "x-ms-ratelimit-microsoft.costmanagement-qpu-consumed": "1",
    }
    sleeps: list[float] = []
    table = QueryStream(client_for(azure_settings, sleeps=sleeps), QUERY, "q").table()
    assert sleeps == [3.0]
    assert table.num_rows == 10
    assert len(azure_api.state.query_requests()) == 4  # one 429, then three pages
    assert "HTTP 429" in caplog.text


def test_throttle_floor_applies(
    azure_api: AzureApi, azure_settings: AzureSettings, paged: list[list[Any]],
) -> None:
    azure_api.state.throttle_next_query = {"Retry-After": "1"}
    sleeps: list[float] = []
    credentials = ClientCredentials(azure_settings)
    client = ArmClient(credentials, azure_settings, sleep=sleeps.append)
    QueryStream(client, QUERY, "q").table()
    assert sleeps == [30.0]  # quota windows are a minute long: never hammer at 1 s


def test_expiry_and_forced_401_each_cost_one_token_request(
    azure_api: AzureApi, azure_settings: AzureSettings, paged: list[list[Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    azure_api.state.token_lifetime = 3900
    clock = Clock()
    client = client_for(azure_settings, clock=clock)
    QueryStream(client, QUERY, "q").table()
    assert len(azure_api.state.token_requests()) == 1
    clock.now += 3900  # expired
    QueryStream(client, QUERY, "q").table()
    assert len(azure_api.state.token_requests()) == 2
    azure_api.state.revoke_tokens()  # the server refuses the cached token: 401
    assert QueryStream(client, QUERY, "q").table().num_rows == 10
    assert len(azure_api.state.token_requests()) == 3
    assert "401" in caplog.text
    assert len(azure_api.state.issued_tokens) == 3
    for token in (*azure_api.state.issued_tokens, CLIENT_SECRET):
        assert token not in caplog.text


def test_token_refused_twice_is_a_clear_error(
    azure_api: AzureApi, azure_settings: AzureSettings, paged: list[list[Any]],
) -> None:
    client = client_for(azure_settings)
    QueryStream(client, QUERY, "q").table()
    azure_api.state.revoke_tokens()
    azure_api.state.tenants = {}  # and no new token will be issued either
    with pytest.raises(SourceError, match="HTTP 400 invalid_request") as caught:
        QueryStream(client, QUERY, "q").table()
    assert CLIENT_SECRET not in str(caught.value)


def test_unknown_scopes(
    azure_api: AzureApi, azure_settings: AzureSettings, paged: list[list[Any]], sink: Sink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        CostQuery(scope="tenants/abc")
    with pytest.raises(ConfigError, match="unknown scope 'subscription/x'"):
        ingest_location("azcost://subscription/x", sink, IngestOptions())
    env = {"AZURE_TENANT_ID": azure_settings.tenant_id, "AZURE_CLIENT_ID":
           azure_settings.client_id, "AZURE_CLIENT_SECRET": CLIENT_SECRET,
           "AZURE_AUTHORITY_HOST": azure_api.url, "AZURE_RESOURCE_MANAGER_URL": azure_api.url,
           "AZURE_CA_FILE": str(azure_api.ca.ca_file)}
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    with pytest.raises(SourceError, match=r"SubscriptionNotFound.*unknown scope"):
        ingest_location("azcost://subscriptions/99999999-dead-beef-0000-000000000000", sink,
                        IngestOptions())
    with pytest.raises(SinkError, match="does not exist"):
        sink.query("focus", "SELECT 1 FROM {table}")  # nothing committed


def test_cli_ingest_azcost(
    azure_api: AzureApi, azure_settings: AzureSettings, paged: list[list[Any]],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"AZURE_TENANT_ID": azure_settings.tenant_id, "AZURE_CLIENT_ID":
           azure_settings.client_id, "AZURE_CLIENT_SECRET": CLIENT_SECRET,
           "AZURE_AUTHORITY_HOST": azure_api.url, "AZURE_RESOURCE_MANAGER_URL": azure_api.url,
           "AZURE_CA_FILE": str(azure_api.ca.ca_file)}
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    db = tmp_path / "cli.duckdb"
    uri = (f"azcost://subscriptions/{SUB}?type=ActualCost&timeframe=Custom&from=2026-09-01"
           "&to=2026-09-30&groupBy=ResourceId,ServiceName")
    for _ in range(2):  # a re-run replaces the month with the same rows
        result = CliRunner().invoke(app, ["ingest", uri, "--db", f"duckdb:///{db}"])
        assert result.exit_code == 0, result.output
    check = open_sink(f"duckdb:///{db}")
    try:
        got = check.query("focus", 'SELECT "BillingCurrency" AS c, SUM("BilledCost") AS s, '
                          'COUNT(*) AS n FROM {table} GROUP BY 1').to_pylist()
    finally:
        check.close()
    assert {r["c"]: r["s"] for r in got} == expected_sums(paged)
    assert sum(r["n"] for r in got) == 10
