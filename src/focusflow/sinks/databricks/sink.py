"""Databricks sink: focusflow writes Delta (through ``DeltaSink``), Databricks only reads it.

Layer: sinks. Each load goes to the Delta table ``<location>/<table>`` with the Delta sink's
guarantees (one version per load, replace by source and billing period). The table is then
registered once per process with the SQL warehouse through databricks-sql-connector:
``CREATE TABLE IF NOT EXISTS `catalog`.`schema`.`table` USING DELTA LOCATION '<uri>'``. One
statement per table, no row inserts (``executemany`` is a sequential loop), far below the
256-parameter limit. Spark/Databricks never writes these tables: Delta's S3 commit protocol
of delta-rs and of Spark do not coordinate (one writer per table).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from focusflow.errors import ConfigError, MissingExtraError, SinkError, TransientSinkError
from focusflow.sinks.base import LoadRequest, LoadResult
from focusflow.sinks.databricks.config import (
    DatabricksSettings,
    location_literal,
    quote_identifier,
)
from focusflow.sinks.delta import DeltaSink, location_from_uri
from focusflow.sinks.identifiers import validate_table_name

log = logging.getLogger(__name__)


class DatabricksSink:
    """Delta tables written by focusflow, registered as external tables in Unity Catalog."""

    name = "databricks"

    def __init__(self, settings: DatabricksSettings, delta: DeltaSink | None = None) -> None:
        self.settings = settings
        self.delta = delta or DeltaSink(location_from_uri(settings.location))
        self._registered: set[str] = set()
        self.statements: list[str] = []  # what this sink sent, for logs and tests

    def load(self, request: LoadRequest) -> LoadResult:
        result = self.delta.load(request)
        if request.table not in self._registered:
            try:
                self.register(request.table)
            except SinkError as exc:
                # the data is committed; the next run (even of an unchanged file) registers again
                raise type(exc)(f"{request.table} is written to "
                                f"{self.delta.location.table_uri(request.table)} but not "
                                f"registered with Databricks: {exc}") from exc
        return result

    def table_name(self, table: str) -> str:
        """The quoted three-part name: ``[schema.]table`` maps into the configured catalog."""
        parts = validate_table_name(table)
        schema = parts[0] if len(parts) == 2 else self.settings.schema_name
        return ".".join(quote_identifier(p) for p in (self.settings.catalog, schema, parts[-1]))

    def reader_uri(self, table: str) -> str:
        """The table's location as Databricks spells it (``file:`` URIs for local roots)."""
        uri = self.delta.location.table_uri(table)
        return f"file://{uri}" if self.delta.location.is_local else uri

    def register(self, table: str) -> None:
        """Make the Delta table visible to the warehouse (idempotent)."""
        if self.delta.version(table) is None:
            raise SinkError(f"databricks: cannot register {table!r}: no Delta table written yet")
        statement = (
            f"CREATE TABLE IF NOT EXISTS {self.table_name(table)} "
            f"USING DELTA LOCATION {location_literal(self.reader_uri(table))}"
        )
        self.execute(statement)
        self._registered.add(table)
        log.info("databricks %s: registered %s", self.settings.host, self.table_name(table))

    def execute(self, statement: str, parameters: dict[str, Any] | None = None) -> list[Any]:
        """Run one statement on the warehouse; returns its rows (if any)."""
        if parameters is not None and len(parameters) > 256:
            raise ConfigError("Databricks statements take at most 256 parameters")
        sql, exc_module = _driver()
        settings = self.settings
        options: dict[str, Any] = {
            "_port": settings.port,
            "_socket_timeout": settings.timeout_seconds,
            "_retry_stop_after_attempts_duration": settings.timeout_seconds,
            "enable_telemetry": False,  # focusflow does not send usage data anywhere
            "user_agent_entry": "focusflow",
        }
        if settings.ca_file is not None:
            options["_tls_trusted_ca_file"] = str(settings.ca_file)
        self.statements.append(statement)
        try:
            with sql.connect(
                server_hostname=settings.host, http_path=settings.http_path,
                access_token=settings.access_token(), **options,
            ) as connection, connection.cursor() as cursor:
                cursor.execute(statement, parameters)
                return list(cursor.fetchall()) if cursor.description else []
        except exc_module.RequestError as exc:
            raise TransientSinkError(
                f"databricks {settings.host}{settings.http_path}: {_message(exc)}"
            ) from exc
        except exc_module.Error as exc:
            raise SinkError(
                f"databricks {settings.host}{settings.http_path}: {_message(exc)}"
            ) from exc

    # Reads go straight to the Delta table: no warehouse needs to run for focusflow to read.
    def query(self, table: str, sql: str, params: Sequence[object] = ()) -> pa.Table:
        return self.delta.query(table, sql, params)

    def read_table(self, table: str) -> pa.Table:
        return self.delta.read_table(table)

    def close(self) -> None:
        self.delta.close()


def _driver() -> tuple[Any, Any]:
    try:
        from databricks import sql  # noqa: PLC0415 - heavy optional driver, imported on use
        from databricks.sql import exc  # noqa: PLC0415
    except ImportError as error:
        raise MissingExtraError("databricks-sql-connector", "databricks") from error
    return sql, exc


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
