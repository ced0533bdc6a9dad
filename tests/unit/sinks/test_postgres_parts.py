"""PostgreSQL sink pieces that need no server: URL parsing and redaction, type mapping both
ways, CSV rendering for COPY, placeholder conversion and identifier limits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from focusflow.errors import ConfigError, SinkError
from focusflow.focus.schema import DECIMAL, JSON_METADATA, TIMESTAMP
from focusflow.sinks.postgres import postgres_type
from focusflow.sinks.postgres.connection import PostgresConfig
from focusflow.sinks.postgres.sink import (
    _csv_block,
    _psycopg_placeholders,
    _unique,
    arrow_field,
    check_identifier,
)


def test_password_from_url_is_secret_and_never_displayed() -> None:
    config = PostgresConfig.from_url("postgresql://ana:p%40ss-word@db.example:5433/finops")
    assert config.password is not None and config.password.get_secret_value() == "p@ss-word"
    assert config.display == "postgresql://ana@db.example:5433/finops"
    assert "p@ss-word" not in repr(config) and "p@ss-word" not in str(config)
    assert config.redact("FATAL: bad p@ss-word here") == "FATAL: bad *** here"
    assert config.params["connect_timeout"] == "10"


@pytest.mark.parametrize(("url", "sslmode"), [
    ("postgresql://ana@db.example/finops", "verify-full"),
    ("postgresql://ana@db.example/finops?sslmode=disable", "disable"),
    ("postgresql://ana@127.0.0.1:5432/finops", None),
    ("postgresql://ana@localhost/finops", None),
    ("postgresql://ana@[::1]:5432/finops", None),
    ("postgresql://ana@10.0.0.5/finops", "verify-full"),
    ("postgresql:///finops?host=/var/run/postgresql", None),
])
def test_tls_is_verified_by_default_for_remote_servers(url: str, sslmode: str | None) -> None:
    params = PostgresConfig.from_url(url).params
    assert params.get("sslmode") == sslmode
    if sslmode == "verify-full":
        assert params["sslrootcert"] == "system"


def test_password_from_pgpassword(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "from-env")
    config = PostgresConfig.from_url("postgresql://ana@127.0.0.1/finops")
    assert config.password is not None and config.password.get_secret_value() == "from-env"


def test_malformed_url_is_a_config_error_without_the_url() -> None:
    with pytest.raises(ConfigError) as caught:
        PostgresConfig.from_url("postgresql://ana:topsecret@host:notaport/db?bogus_param=1")
    assert "topsecret" not in str(caught.value)


@pytest.mark.parametrize(("field", "expected"), [
    (pa.field("BilledCost", DECIMAL), "NUMERIC(38,18)"),
    (pa.field("ChargePeriodStart", TIMESTAMP), "timestamptz"),
    (pa.field("Tags", pa.string(), metadata=JSON_METADATA), "jsonb"),
    (pa.field("x_Anything", pa.string()), "text"),
    (pa.field("n", pa.int64()), "bigint"),
    (pa.field("f", pa.float64()), "double precision"),
])
def test_column_types(field: pa.Field, expected: str) -> None:
    assert postgres_type(field) == expected


def test_catalogue_types_read_back_as_arrow() -> None:
    assert arrow_field("c", "numeric(38,18)").type == DECIMAL
    assert arrow_field("t", "timestamp with time zone").type == TIMESTAMP
    assert arrow_field("j", "jsonb").metadata == JSON_METADATA
    assert arrow_field("x", "text").type == pa.string()
    assert arrow_field("big", "numeric(60,2)").type == pa.string()  # wider than decimal128


def test_csv_block_writes_date_times_as_utc_wall_time() -> None:
    instant = datetime(2026, 5, 1, 22, 30, 0, 500000, tzinfo=UTC)
    batch = pa.record_batch([pa.array([instant], TIMESTAMP)], names=["ChargePeriodStart"])
    text = _csv_block(batch, "s", "l").to_pybytes().decode()
    assert text == '2026-05-01 22:30:00.500000,"s","l"\n'


def test_csv_block_keeps_empty_strings_apart_from_nulls() -> None:
    batch = pa.record_batch([
        pa.array(["", None, 'a "quoted", value\nwith newline']),
        pa.array([Decimal("1.5"), None, Decimal("-0.000000000000000001")], DECIMAL),
    ], names=["x_Text", "BilledCost"])
    text = _csv_block(batch, "src", "load").to_pybytes().decode()
    assert text.splitlines()[0] == '"",1.500000000000000000,"src","load"'
    assert text.splitlines()[1] == ',,"src","load"'  # NULL is an unquoted empty field
    # Arrow writes tiny decimals in E notation, which PostgreSQL's numeric input accepts.
    assert '"a ""quoted"", value\nwith newline",-1E-18' in text


@pytest.mark.parametrize(("given", "expected"), [
    ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
    ("SELECT '?', strftime(x, '%Y') WHERE a = ?", "SELECT '?', strftime(x, '%%Y') WHERE a = %s"),
    ('SELECT "odd?col", 5 % 2 FROM t WHERE a = ?', 'SELECT "odd?col", 5 %% 2 FROM t WHERE a = %s'),
    ("SELECT 'it''s ?' WHERE a = ?", "SELECT 'it''s ?' WHERE a = %s"),
])
def test_question_marks_become_psycopg_placeholders(given: str, expected: str) -> None:
    assert _psycopg_placeholders(given) == expected


def test_result_names_are_made_unique() -> None:
    assert _unique(["k", "sum", "sum", "count", "sum"]) == ["k", "sum", "sum_2", "count", "sum_3"]


def test_identifiers_longer_than_63_bytes_are_refused() -> None:
    check_identifier("x_" + "a" * 61)  # 63 bytes: fine
    with pytest.raises(SinkError, match="64 bytes long"):
        check_identifier("x_" + "a" * 62)
    with pytest.raises(SinkError, match="silently truncated"):
        check_identifier("x_" + "ü" * 31)  # 33 characters, 64 bytes
