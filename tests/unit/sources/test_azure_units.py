"""Azure source pieces that need no server: parsing, mapping, request shapes, timespans."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from focusflow.errors import ConfigError, InputError
from focusflow.focus import resolve_header
from focusflow.sources.azure import AzureSettings
from focusflow.sources.azure.arm import retry_after_seconds
from focusflow.sources.azure.blob import is_blob_url, parse_blob_uri
from focusflow.sources.azure.exports import parse_manifest, parse_time
from focusflow.sources.azure.monitor import MetricsQuery, parse_iso_duration, sliding_timespan
from focusflow.sources.azure.query import (
    CostQuery,
    Page,
    QueryStream,
    focus_columns,
    parse_query_uri,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-03-01T00:00:00", datetime(2025, 3, 1, tzinfo=UTC)),
    ("2025-03-21T00:00:00Z", datetime(2025, 3, 21, tzinfo=UTC)),
    ("2025-03-21T21:04:06.5234447Z", datetime(2025, 3, 21, 21, 4, 6, 523444, tzinfo=UTC)),
    ("2025-03-21T02:00:00+02:00", datetime(2025, 3, 21, tzinfo=UTC)),
])
def test_manifest_timestamps_are_parsed_tolerantly(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


MANIFEST = (b'{"manifestVersion":"2024-04-01","byteCount":10,"blobCount":1,"dataRowCount":3,'
            b'"runInfo":{"runId":"r1","submittedTime":"2025-03-21T21:04:06.5234447Z",'
            b'"startDate":"2025-03-01T00:00:00"},'
            b'"blobs":[{"blobName":"a/part0.csv","byteCount":10,"dataRowCount":3}]}')


def test_manifest_fields_and_checks() -> None:
    manifest = parse_manifest(MANIFEST, "m.json")
    assert manifest.run_info.run_id == "r1"
    assert manifest.blobs[0].byte_count == 10
    with pytest.raises(InputError, match=r"m\.json, column dataRowCount: dataRowCount is 4"):
        parse_manifest(MANIFEST.replace(b'"dataRowCount":3,"runInfo"',
                                        b'"dataRowCount":4,"runInfo"'), "m.json")
    with pytest.raises(InputError, match="not an export manifest"):
        parse_manifest(b'{"runInfo":{"runId":"r"},"blobs":[]}', "m.json")


def test_retry_after_takes_the_longest() -> None:
    assert retry_after_seconds({
        "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "5",
        "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after": "12",
        "Retry-After": "7", "x-ms-ratelimit-remaining-microsoft.costmanagement-entity-requests":
        "99"}) == 12
    assert retry_after_seconds({"x-ms-retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"content-type": "application/json"}) is None


def test_query_body_shape() -> None:
    query = CostQuery(scope="/subscriptions/s1/resourceGroups/rg/", type="AmortizedCost",
                      granularity="None", group_by="ServiceName,tag:env",
                      timeframe="TheLastMonth")
    assert query.scope == "subscriptions/s1/resourceGroups/rg"
    body = query.body()
    assert body["type"] == "AmortizedCost"
    assert "granularity" not in body["dataset"]
    assert body["dataset"]["grouping"] == [{"type": "Dimension", "name": "ServiceName"},
                                           {"type": "TagKey", "name": "env"}]
    assert "timePeriod" not in body


@pytest.mark.parametrize("scope", [
    "subscriptions/a", "subscriptions/a/resourceGroups/b",
    "providers/Microsoft.Billing/billingAccounts/1/billingProfiles/2/invoiceSections/3",
    "providers/Microsoft.Billing/billingAccounts/1/departments/2",
    "providers/Microsoft.Management/managementGroups/mg",
])
def test_known_scopes(scope: str) -> None:
    assert CostQuery(scope=scope).scope == scope


def test_query_uri_syntax() -> None:
    query = parse_query_uri("azcost://subscriptions/s1?type=AmortizedCost&timeframe=Custom"
                            "&from=2026-09-01&to=2026-09-30&groupBy=ResourceId,tag:team")
    assert (query.scope, query.type, query.group_by) == (
        "subscriptions/s1", "AmortizedCost", ("ResourceId", "tag:team"))
    with pytest.raises(ConfigError, match="Custom needs from and to"):
        parse_query_uri("azcost://subscriptions/s1?from=2026-09-01&to=2026-09-30")
    with pytest.raises(ConfigError, match="unknown scope"):
        parse_query_uri("azcost://tenants/x")


def test_focus_columns_by_cost_type() -> None:
    actual = focus_columns("ActualCost", ["Cost", "CostUSD", "UsageDate", "ResourceGroup",
                                          "Frequency", "Weird"])
    assert "x_BilledCostInUsd" in actual and "ChargeFrequency" in actual
    assert "x_ResourceGroupName" in actual and "x_Weird" in actual
    assert "UsageDate" not in actual
    amortized = focus_columns("AmortizedCost", ["Cost", "CostUSD"])
    assert "x_EffectiveCostInUsd" in amortized


def test_blob_uris_keep_credentials_out_of_display() -> None:
    ref = parse_blob_uri("https://acct.blob.core.windows.net/exports/focus/a%20b.csv?sv=1&sig=S")
    assert (ref.container, ref.path, ref.endpoint) == ("exports", "focus/a b.csv",
                                                       "https://acct.blob.core.windows.net")
    assert "sig" not in ref.display
    again = parse_blob_uri(ref.uri())
    assert again == ref
    assert is_blob_url("az://c/p") and is_blob_url("https://acct1.blob.core.usgovcloudapi.net/c")
    assert not is_blob_url("https://example.com/c/p")


def test_sliding_timespan_and_durations() -> None:
    assert parse_iso_duration("P1DT2H30M").total_seconds() == 95400
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_iso_duration("15m")
    query = MetricsQuery(resource_id="/subscriptions/s/providers/Microsoft.Compute/x/vm",
                         metric_names="a,b", interval="PT1H", lookback="PT3H")
    assert query.metric_names == ("a", "b")
    now = datetime(2026, 5, 28, 20, 26, 40, tzinfo=UTC).timestamp()
    assert sliding_timespan(query, now) == "2026-05-28T17:00:00Z/2026-05-28T20:00:00Z"


def test_settings_never_show_the_secret() -> None:
    settings = AzureSettings(tenant_id="t", client_id="c", client_secret=SecretStr("hunter2"))
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())


def test_monthly_rows_and_frequency_mapping() -> None:
    columns = ("PreTaxCost", "BillingMonth", "Frequency", "Currency", "ChargeType")
    pages = iter([Page(columns, [["1.25", "2026-07-01T00:00:00", "UsageBased", "USD", "Usage"],
                                 ["2", "2026-07-01T00:00:00", "OneTime", "USD", "Purchase"]])])
    stream = QueryStream(None, None, "q", pages=pages, cost_type="Usage")  # type: ignore[arg-type]
    rows = stream.table().to_pylist()
    assert [r["ChargeFrequency"] for r in rows] == ["Usage-Based", "One-Time"]
    assert rows[0]["ChargePeriodStart"].isoformat() == "2026-07-01T00:00:00+00:00"
    assert rows[0]["ChargePeriodEnd"].isoformat() == "2026-08-01T00:00:00+00:00"
    assert rows[0]["x_ChargeType"] == "Usage"
    assert str(rows[0]["BilledCost"]).startswith("1.25")
    assert resolve_header(list(stream.layout.names), file="q", version="1.2",
                          require_mandatory=False) == stream.layout
