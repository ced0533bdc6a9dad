"""Databricks sink: Delta on moto S3, registered through the real databricks-sql-connector.

The warehouse is ``tests/emulators/databricks_sql.py`` (TCLIService over HTTPS, the connector's
own wire protocol, TLS verified against a test CA). The tests assert the SQL the sink sent and
read the registered table back through the connector, as a Databricks user would.
"""

from __future__ import annotations

import logging
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from databricks import sql as dbsql

from emulators.databricks_sql import DatabricksSqlEmulator
from fixtures.paths import EXAMPLES
from focusflow.errors import ConfigError, SinkError
from focusflow.ingest import IngestOptions, ingest
from focusflow.sinks import open_sink
from focusflow.sinks.databricks import DatabricksSink, parse_databricks_url

pytestmark = pytest.mark.integration

AWS = EXAMPLES / "focus_1_2_cost_and_usage_aws.csv"


@pytest.fixture
def warehouse(databricks_sql: DatabricksSqlEmulator, s3_env: str) -> DatabricksSqlEmulator:
    # the emulated warehouse reads the same bucket, as Databricks would with a storage credential
    databricks_sql.state.storage_options = {
        "AWS_ENDPOINT_URL": s3_env, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true",
    }
    return databricks_sql


def url(warehouse: DatabricksSqlEmulator, bucket: str, schema: str = "finops") -> str:
    return (f"databricks://127.0.0.1:{warehouse.port}{warehouse.http_path}"
            f"?catalog=main&schema={schema}&location=s3://{bucket}/lake")


def read_back(warehouse: DatabricksSqlEmulator, statement: str) -> list[Any]:
    """Run ``statement`` through the real connector, as a Databricks reader would."""
    with dbsql.connect(
        server_hostname="127.0.0.1", http_path=warehouse.http_path,
        access_token=warehouse.state.token, _port=warehouse.port, enable_telemetry=False,
        _tls_trusted_ca_file=os.environ["DATABRICKS_CA_FILE"],
    ) as connection, connection.cursor() as cursor:
        cursor.execute(statement)
        return [tuple(row) for row in cursor.fetchall()]


def test_load_registers_the_delta_location_and_databricks_reads_it(
    warehouse: DatabricksSqlEmulator, s3_bucket: str,
) -> None:
    sink = open_sink(url(warehouse, s3_bucket))
    assert isinstance(sink, DatabricksSink)
    result = ingest(str(AWS), sink, IngestOptions(source_id="aws")).result
    assert result.rows_written == 2000

    [statement] = warehouse.state.statements
    assert statement.sql == (
        f"CREATE TABLE IF NOT EXISTS `main`.`finops`.`focus` USING DELTA LOCATION "
        f"'s3://{s3_bucket}/lake/focus'"
    )
    assert statement.parameters == {}
    assert warehouse.state.calls[0] == "OpenSession"
    assert warehouse.state.calls[-1] == "CloseSession"
    assert "ExecuteStatement" in warehouse.state.calls
    assert warehouse.state.tables == {"main.finops.focus": f"s3://{s3_bucket}/lake/focus"}

    rows = read_back(warehouse, "SELECT BillingCurrency, COUNT(*) AS n, SUM(BilledCost) AS c "
                     "FROM main.finops.focus GROUP BY 1")
    expected = sink.query("focus", "SELECT SUM(BilledCost) AS c FROM {table}").column("c")
    assert rows == [("USD", 2000, expected[0].as_py())]
    assert isinstance(rows[0][2], Decimal)


def test_reload_does_not_re_register_and_a_new_process_registers_idempotently(
    warehouse: DatabricksSqlEmulator, s3_bucket: str,
) -> None:
    sink = open_sink(url(warehouse, s3_bucket))
    assert isinstance(sink, DatabricksSink)
    ingest(str(AWS), sink, IngestOptions(source_id="aws"))
    version = sink.delta.version("focus")
    again = ingest(str(AWS), sink, IngestOptions(source_id="aws")).result
    assert again.unchanged and sink.delta.version("focus") == version
    assert len(warehouse.state.statements) == 1

    restarted = open_sink(url(warehouse, s3_bucket))
    ingest(str(AWS), restarted, IngestOptions(source_id="aws"))
    assert len(warehouse.state.statements) == 2  # IF NOT EXISTS: the warehouse keeps one table
    assert list(warehouse.state.tables) == ["main.finops.focus"]
    assert read_back(warehouse, "SELECT COUNT(*) FROM main.finops.focus") == [(2000,)]


def test_wrong_token_fails_without_showing_it(
    warehouse: DatabricksSqlEmulator, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "dapi-wrong-and-secret"
    monkeypatch.setenv("DATABRICKS_TOKEN", secret)
    sink = open_sink(url(warehouse, s3_bucket))
    caplog.set_level(logging.DEBUG, logger="focusflow")
    with pytest.raises(SinkError) as failure:
        ingest(str(AWS), sink, IngestOptions(source_id="aws"))
    assert warehouse.state.unauthorized >= 1
    assert "but not registered with Databricks" in str(failure.value)
    assert secret not in str(failure.value)
    assert secret not in caplog.text
    assert secret not in repr(parse_databricks_url(url(warehouse, s3_bucket)))


def test_token_file_is_read_when_set(
    warehouse: DatabricksSqlEmulator, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(warehouse.state.token + "\n")
    monkeypatch.delenv("DATABRICKS_TOKEN")
    monkeypatch.setenv("DATABRICKS_TOKEN_FILE", str(token_file))
    ingest(str(AWS), open_sink(url(warehouse, s3_bucket, schema="ops")),
           IngestOptions(source_id="aws", table="costs"))
    assert list(warehouse.state.tables) == ["main.ops.costs"]


@pytest.mark.parametrize(("bad", "message"), [
    ("databricks://user:dapi-in-url@h/sql/1.0/warehouses/x?catalog=c&schema=s&location=s3://b/p",
     "must not carry a token"),
    ("databricks://h/sql/1.0/warehouses/x?catalog=c;drop&schema=s&location=s3://b/p", "catalog"),
    ("databricks://h/sql/1.0/warehouses/x?catalog=c&schema=s&location=s3://b/p'--", "location"),
    ("databricks://h/sql/1.0/warehouses/x?catalog=c&schema=s", "location"),
    ("databricks://h/sql/1.0/warehouses/x?catalog=c&schema=s&location=s3://b/p&token=t",
     "unknown parameter"),
])
def test_bad_urls_are_config_errors(
    bad: str, message: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", "t")
    with pytest.raises(ConfigError, match=message) as failure:
        open_sink(bad)
    assert "dapi-in-url" not in str(failure.value)
