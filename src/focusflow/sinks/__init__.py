"""Sinks: where rows go. One folder per sink, all implementing the ``Sink`` protocol.

``open_sink(url)`` picks the sink from a database URL and imports its driver lazily, so an
optional driver that is not installed raises an error naming the extra to install:

- ``duckdb:///relative/file.duckdb`` or ``duckdb:////absolute/file.duckdb`` (SQLAlchemy's rule:
  three slashes then a relative path, four for an absolute one; the embedded default) or
  ``duckdb:///:memory:``
- ``postgresql://user@host:5432/db`` (password from the URL, ``PGPASSWORD`` or a secret ref)
- ``delta+file:///abs/path``, ``delta:///abs/path`` or ``delta+s3://bucket/prefix`` (Delta Lake;
  S3 settings from the standard ``AWS_*`` variables)
- ``databricks://<host>/<http_path>?catalog=..&schema=..&location=s3://bucket/prefix`` (Delta
  tables registered with a SQL warehouse; token from ``DATABRICKS_TOKEN``, never in the URL)
- ``memory://`` (tests)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from focusflow import interrupts
from focusflow.errors import ConfigError, MissingExtraError
from focusflow.redaction import redact
from focusflow.sinks.base import (
    INTERNAL_COLUMNS,
    LOAD_COLUMN,
    PERIOD_COLUMN,
    SOURCE_COLUMN,
    LoadRequest,
    LoadResult,
    ParquetRows,
    ParquetRowsRefused,
    PeriodTotal,
    Sink,
    TextRows,
    TextRowsRefused,
)
from focusflow.sinks.identifiers import TableName, quote, quote_table, validate_table_name

DEFAULT_DB_URL = "duckdb:///focusflow.duckdb"
log = logging.getLogger(__name__)

SinkFactory = Callable[[str], Sink]
_FACTORIES: dict[str, SinkFactory] = {}


def register_sink(scheme: str, factory: SinkFactory) -> None:
    """Make ``open_sink`` understand ``scheme://`` URLs."""
    _FACTORIES[scheme] = factory


def open_sink(url: str, *, read_only: bool = False) -> Sink:
    """The sink a database URL names (commands print ``database_location`` to say where).

    ``read_only`` (summary, export, plot): a DuckDB file must exist already and is opened
    read-only, so a mistyped path is an error instead of a new empty database.
    """
    scheme = urlsplit(url).scheme.lower()
    factory = _FACTORIES.get(scheme)
    if factory is None:
        known = ", ".join(sorted(f"{s}://" for s in _FACTORIES))
        raise ConfigError(f"unsupported database URL scheme {scheme!r} in --db "
                          f"{redact(url)!r}; expected one of {known}")
    log.debug("database %s", database_location(url))
    if factory is _duckdb:
        return _duckdb(url, read_only=read_only)
    return factory(url)


def duckdb_path(url: str) -> str:
    """The file a ``duckdb:`` URL names: ``duckdb:///rel.duckdb`` is relative to the working
    directory and ``duckdb:////abs/x.duckdb`` absolute, as SQLAlchemy spells them."""
    _, sep, path = url.partition("://")
    path = path[1:] if path.startswith("/") else path
    if not sep or not path:
        raise ConfigError(f"--db {url!r}: expected duckdb:///relative/path.duckdb or "
                          "duckdb:////absolute/path.duckdb")
    return path


def database_location(url: str) -> str:
    """Where a database URL points, for people: a DuckDB file's absolute path, or the URL
    without credentials."""
    if urlsplit(url).scheme.lower() == "duckdb":
        path = duckdb_path(url)
        return path if path == ":memory:" else str(Path(path).resolve())
    parts = urlsplit(url)
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return redact(f"{parts.scheme}://{user}{host}{port}{parts.path}")


def _duckdb(url: str, *, read_only: bool = False) -> Sink:
    from focusflow.sinks.duckdb import DuckDBSink  # noqa: PLC0415 - lazy driver import

    interrupts.check()  # a stop that landed inside the driver's import (``interrupts``)
    path = duckdb_path(url)
    if read_only and path != ":memory:" and not Path(path).is_file():
        raise ConfigError(f"no DuckDB database at {Path(path).resolve()} (from --db {url!r}); "
                          "this command reads one and never creates it")
    return DuckDBSink(path, read_only=read_only)


def _postgres(url: str) -> Sink:
    try:
        from focusflow.sinks.postgres import PostgresSink  # noqa: PLC0415 - lazy driver import
    except ImportError as exc:
        raise MissingExtraError("psycopg", "postgres") from exc
    interrupts.check()
    return PostgresSink(url)


def _delta(url: str) -> Sink:
    try:
        from focusflow.sinks.delta import DeltaSink, parse_delta_url  # noqa: PLC0415 - lazy
    except ImportError as exc:
        raise MissingExtraError("deltalake", "delta") from exc
    interrupts.check()
    return DeltaSink(parse_delta_url(url))


def _databricks(url: str) -> Sink:
    try:
        from focusflow.sinks.databricks import (  # noqa: PLC0415 - lazy driver import
            DatabricksSink,
            parse_databricks_url,
        )
    except ImportError as exc:
        raise MissingExtraError("deltalake", "delta") from exc
    interrupts.check()
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
    "ParquetRows",
    "ParquetRowsRefused",
    "PeriodTotal",
    "Sink",
    "TableName",
    "TextRows",
    "TextRowsRefused",
    "database_location",
    "duckdb_path",
    "open_sink",
    "quote",
    "quote_table",
    "register_sink",
    "validate_table_name",
]
