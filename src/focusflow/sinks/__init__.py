"""Sinks: where rows go. One folder per sink, all implementing the ``Sink`` protocol.

``open_sink(url)`` picks the sink from a database URL and imports its driver lazily, so an
optional driver that is not installed raises an error naming the extra to install:

- ``duckdb:///path/to/file.duckdb`` (the embedded default) or ``duckdb:///:memory:``
- ``postgresql://user@host:5432/db`` (password from the URL, ``PGPASSWORD`` or a secret ref)
- ``delta+file:///abs/path``, ``delta:///abs/path`` or ``delta+s3://bucket/prefix`` (Delta Lake;
  S3 settings from the standard ``AWS_*`` variables)
- ``databricks://<host>/<http_path>?catalog=..&schema=..&location=s3://bucket/prefix`` (Delta
  tables registered with a SQL warehouse; token from ``DATABRICKS_TOKEN``, never in the URL)
- ``memory://`` (tests)
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from focusflow.errors import ConfigError, MissingExtraError
from focusflow.sinks.base import (
    INTERNAL_COLUMNS,
    LOAD_COLUMN,
    PERIOD_COLUMN,
    SOURCE_COLUMN,
    LoadRequest,
    LoadResult,
    PeriodTotal,
    Sink,
    TextRows,
    TextRowsRefused,
)
from focusflow.sinks.identifiers import TableName, quote, quote_table, validate_table_name

DEFAULT_DB_URL = "duckdb:///focusflow.duckdb"

SinkFactory = Callable[[str], Sink]
_FACTORIES: dict[str, SinkFactory] = {}


def register_sink(scheme: str, factory: SinkFactory) -> None:
    """Make ``open_sink`` understand ``scheme://`` URLs."""
    _FACTORIES[scheme] = factory


def open_sink(url: str) -> Sink:
    """The sink a database URL names."""
    scheme = urlsplit(url).scheme.lower()
    factory = _FACTORIES.get(scheme)
    if factory is None:
        known = ", ".join(sorted(f"{s}://" for s in _FACTORIES))
        raise ConfigError(f"unsupported database URL scheme {scheme!r}; expected one of {known}")
    return factory(url)


def _duckdb(url: str) -> Sink:
    from focusflow.sinks.duckdb import DuckDBSink  # noqa: PLC0415 - lazy driver import

    path = url.split("://", 1)[1]
    # duckdb:///relative.duckdb and duckdb:////abs/path.duckdb, as SQLAlchemy spells them
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise ConfigError(f"{url}: expected duckdb:///path/to/file.duckdb")
    return DuckDBSink(path)


def _postgres(url: str) -> Sink:
    try:
        from focusflow.sinks.postgres import PostgresSink  # noqa: PLC0415 - lazy driver import
    except ImportError as exc:
        raise MissingExtraError("psycopg", "postgres") from exc
    return PostgresSink(url)


def _delta(url: str) -> Sink:
    try:
        from focusflow.sinks.delta import DeltaSink, parse_delta_url  # noqa: PLC0415 - lazy
    except ImportError as exc:
        raise MissingExtraError("deltalake", "delta") from exc
    return DeltaSink(parse_delta_url(url))


def _databricks(url: str) -> Sink:
    try:
        from focusflow.sinks.databricks import (  # noqa: PLC0415 - lazy driver import
            DatabricksSink,
            parse_databricks_url,
        )
    except ImportError as exc:
        raise MissingExtraError("deltalake", "delta") from exc
    return DatabricksSink(parse_databricks_url(url))


def _memory(_: str) -> Sink:
    from focusflow.sinks.memory import MemorySink  # noqa: PLC0415

    return MemorySink()


register_sink("duckdb", _duckdb)
register_sink("postgresql", _postgres)
register_sink("postgres", _postgres)
register_sink("memory", _memory)
for _scheme in ("delta", "delta+file", "delta+s3"):
    register_sink(_scheme, _delta)
register_sink("databricks", _databricks)

__all__ = [
    "DEFAULT_DB_URL",
    "INTERNAL_COLUMNS",
    "LOAD_COLUMN",
    "PERIOD_COLUMN",
    "SOURCE_COLUMN",
    "LoadRequest",
    "LoadResult",
    "PeriodTotal",
    "Sink",
    "TableName",
    "TextRows",
    "TextRowsRefused",
    "open_sink",
    "quote",
    "quote_table",
    "register_sink",
    "validate_table_name",
]
