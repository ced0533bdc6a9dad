"""Delta and Databricks sink settings, predicates and staging: pure logic, no servers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from focusflow.errors import ConfigError
from focusflow.sinks.databricks.config import (
    location_literal,
    parse_databricks_url,
    quote_identifier,
)
from focusflow.sinks.delta.config import S3Settings, location_from_uri, parse_delta_url
from focusflow.sinks.delta.staging import PARTITION_COLUMN, stage


def test_delta_urls_map_to_roots_and_table_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5055")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert parse_delta_url("delta+file:///data/lake/").root == "/data/lake"
    assert parse_delta_url("delta:///data/lake").table_uri("finops.focus") == \
        "/data/lake/finops/focus"
    s3 = parse_delta_url("delta+s3://bucket/some/prefix")
    assert s3.table_uri("focus") == "s3://bucket/some/prefix/focus"
    assert s3.storage_options == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5055", "AWS_ACCESS_KEY_ID": "AKIDTEST",
        "AWS_SECRET_ACCESS_KEY": "very-secret", "AWS_REGION": "eu-west-1",
        "AWS_ALLOW_HTTP": "true",  # plain-http endpoint: delta-rs must be told
    }
    assert "very-secret" not in repr(s3) and "very-secret" not in repr(S3Settings())
    assert location_from_uri("s3://bucket/p").root == "s3://bucket/p"


def test_https_endpoint_does_not_allow_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://s3.example.internal")
    assert "AWS_ALLOW_HTTP" not in S3Settings().storage_options()


@pytest.mark.parametrize("url", ["delta://relative", "delta+file:relative", "delta+s3:///p",
                                 "delta+gs://b/p"])
def test_bad_delta_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_delta_url(url)


def test_hostile_table_names_never_become_paths() -> None:
    with pytest.raises(ConfigError):
        parse_delta_url("delta:///lake").table_uri("../etc")


def test_staging_types_all_null_columns_and_builds_a_quoted_predicate(tmp_path: Path) -> None:
    schema = pa.schema([
        pa.field("BillingPeriodStart", pa.timestamp("us", tz="UTC")),
        pa.field("BilledCost", pa.decimal128(38, 18)),
        pa.field("AvailabilityZone", pa.string()),
    ])
    may = datetime(2026, 5, 1, tzinfo=UTC)
    batch = pa.RecordBatch.from_arrays(
        [pa.array([may, None], schema.field(0).type), pa.array([1, 2], pa.decimal128(38, 18)),
         pa.nulls(2)],  # an all-empty column arriving as Arrow type null
        names=schema.names,
    )
    staged = stage([batch], schema, "it's/a source", "load-1", tmp_path)
    assert {m: p.rows for m, p in staged.parts.items()} == {"2026-05": 1, None: 1}
    written = pq.read_table(staged.parts["2026-05"].path)
    assert written.schema.field("AvailabilityZone").type == pa.string()
    assert PARTITION_COLUMN not in written.column_names  # Delta keeps it in the path only
    assert sorted(staged.reader().read_all().column(PARTITION_COLUMN).to_pylist(),
                  key=str) == ["2026-05", None]
    assert staged.rows == 2 and staged.periods == {may, None}
    assert staged.replace_predicate("it's/a source") == (
        "\"_focusflow_source\" = 'it''s/a source' AND ((\"_focusflow_billing_month\" IN "
        "('2026-05') AND \"BillingPeriodStart\" IN ('2026-05-01T00:00:00+00:00')) OR "
        "(\"_focusflow_billing_month\" IS NULL AND \"BillingPeriodStart\" IS NULL))"
    )


def test_databricks_url_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-secret")
    settings = parse_databricks_url(
        "databricks://dbc-1.cloud.databricks.com/sql/1.0/warehouses/abc"
        "?catalog=main&schema=finops&location=s3://bucket/lake/"
    )
    assert (settings.host, settings.http_path, settings.port) == (
        "dbc-1.cloud.databricks.com", "/sql/1.0/warehouses/abc", 443)
    assert (settings.catalog, settings.schema_name, settings.location) == (
        "main", "finops", "s3://bucket/lake")
    assert settings.access_token() == "dapi-secret"
    assert "dapi-secret" not in repr(settings)


def test_databricks_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABRICKS_TOKEN", raising=False)
    monkeypatch.delenv("DATABRICKS_TOKEN_FILE", raising=False)
    with pytest.raises(ConfigError, match="DATABRICKS_TOKEN"):
        parse_databricks_url("databricks://h/p?catalog=c&schema=s&location=s3://b/p")


def test_identifiers_and_locations_are_validated() -> None:
    assert quote_identifier("main-prod") == "`main-prod`"
    assert location_literal("s3://b/lake/focus") == "'s3://b/lake/focus'"
    for bad in ("a`b", "a.b", "", "x y"):
        with pytest.raises(ConfigError):
            quote_identifier(bad)
    for bad in ("s3://b/p' OR 1=1", "http://x/y", "s3://b/p\\q", "s3://b/p q"):
        with pytest.raises(ConfigError):
            location_literal(bad)


def test_databricks_settings_from_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"TOKEN": "t", "HOST": "h.example", "HTTP_PATH": "sql/1.0/warehouses/w",
                        "CATALOG": "main", "SCHEMA": "finops", "LOCATION": "s3://b/lake"}.items():
        monkeypatch.setenv(f"DATABRICKS_{name}", value)
    monkeypatch.setenv("schema", "not-this-one")  # an unprefixed variable must not leak in
    settings = parse_databricks_url("databricks://")
    assert (settings.host, settings.http_path, settings.schema_name) == (
        "h.example", "/sql/1.0/warehouses/w", "finops")
