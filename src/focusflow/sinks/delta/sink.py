"""Delta Lake sink: FOCUS tables as Delta tables on a local path or S3, written by delta-rs.

Layer: sinks. A load stages its batches to a local Parquet file (bounded memory, nothing written
remotely if the stream fails), then commits ONE table version: ``mode="overwrite"`` with a
predicate selecting the source's rows for the billing periods the load carries, so the replace
and the new rows land atomically. New ``x_*`` columns arrive by schema merge; nothing is
dropped. A concurrent writer's conflicting commit (``CommitFailedError``) makes the sink reload
the table and re-commit the staged file. Tables are partitioned by billing month and keep
deletion vectors off so the Arrow/DuckDB read path (and older readers) keep working.
Reads go through DuckDB over ``DeltaTable.to_pyarrow_dataset()`` (no DuckDB extensions).
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from focusflow.errors import FocusflowError, SinkError, TransientSinkError
from focusflow.sinks import sql
from focusflow.sinks.base import LoadRequest, LoadResult, PeriodTotal
from focusflow.sinks.delta.config import DeltaLocation
from focusflow.sinks.delta.registry import LoadRecord, LoadsRegistry
from focusflow.sinks.delta.staging import (
    DELTA_INTERNAL_COLUMNS,
    PARTITION_COLUMN,
    StagedLoad,
    stage,
)

log = logging.getLogger(__name__)

TABLE_PROPERTIES = {
    # Delta readers without deletion-vector support (to_pyarrow_dataset among them) keep working
    "delta.enableDeletionVectors": "false",
}
MAX_COMMIT_ATTEMPTS = 5
_QUERY_NAME = "focusflow_delta_table"


class DeltaSink:
    """A folder of Delta tables (local or ``s3://``) as a sink; one writer per table."""

    name = "delta"

    def __init__(self, location: DeltaLocation) -> None:
        self.location = location
        self.registry = LoadsRegistry(location)
        self.commit_attempts = 0  # commits tried by the last load (1 unless it hit conflicts)

    # -- loading ---------------------------------------------------------------------------
    def load(self, request: LoadRequest) -> LoadResult:
        uri = self.location.table_uri(request.table)
        try:
            return self._load(request, uri)
        except FocusflowError:
            raise
        except CommitFailedError as exc:
            raise TransientSinkError(
                f"delta {uri}: loading {request.table} kept conflicting with concurrent "
                f"writers after {MAX_COMMIT_ATTEMPTS} attempts: {_first_line(exc)}"
            ) from exc
        except OSError as exc:  # object store unreachable, throttled, timed out
            raise TransientSinkError(f"delta {uri}: {_first_line(exc)}") from exc
        except (DeltaError, pa.ArrowException, duckdb.Error) as exc:
            raise SinkError(
                f"delta {uri}: loading {request.table} failed: {_first_line(exc)}"
            ) from exc

    def _load(self, request: LoadRequest, uri: str) -> LoadResult:
        result = LoadResult(request.table, request.source_id)
        previous = self.registry.previous_fingerprint(request.table, request.source_id)
        if request.known_fingerprint is not None and previous == request.known_fingerprint:
            result.unchanged = True
            return result
        # Opened before staging: a writer that commits meanwhile is a conflict we resolve.
        handle = self._open(uri)
        load_id = uuid.uuid4().hex
        with tempfile.TemporaryDirectory(prefix="focusflow-delta-") as tmp:
            staged = stage(
                request.batches, request.schema, request.source_id, load_id,
                Path(tmp) / "load.parquet",
            )
            fingerprint = request.known_fingerprint or (
                request.fingerprint() if request.fingerprint else None
            )
            if fingerprint is not None and fingerprint == previous:
                result.unchanged = True
                return result
            result.totals = _totals(staged, load_id)
            result.rows_written = staged.rows
            version, result.rows_replaced = self._commit(
                uri, handle, staged, request, load_id=load_id, fingerprint=fingerprint
            )
        self.registry.record(LoadRecord(
            request.table, request.source_id, load_id, fingerprint, result.rows_written, version,
        ))
        log.info(
            "delta %s: load %s of %s wrote %d rows, replaced %d (version %d)",
            uri, load_id, request.source_id, result.rows_written, result.rows_replaced, version,
        )
        return result

    def _commit(
        self, uri: str, handle: DeltaTable | None, staged: StagedLoad, request: LoadRequest, *,
        load_id: str, fingerprint: str | None,
    ) -> tuple[int, int]:
        """Commit the staged rows as one version; returns (version, rows replaced)."""
        properties = CommitProperties(custom_metadata={
            "focusflow.source": request.source_id,
            "focusflow.load_id": load_id,
            "focusflow.fingerprint": fingerprint or "",
        })
        predicate = staged.replace_predicate(request.source_id)
        self.commit_attempts = 0
        while True:
            self.commit_attempts += 1
            try:
                return self._commit_once(uri, handle, staged, predicate, properties)
            except CommitFailedError:
                if self.commit_attempts >= MAX_COMMIT_ATTEMPTS:
                    raise
                log.warning(
                    "delta %s: load %s conflicted with a concurrent commit; reloading (attempt %d)",
                    uri, load_id, self.commit_attempts,
                )
                handle = self._open(uri)

    def _commit_once(
        self, uri: str, handle: DeltaTable | None, staged: StagedLoad, predicate: str | None,
        properties: CommitProperties,
    ) -> tuple[int, int]:
        options = self.location.storage_options or None
        if handle is None:  # first load creates the table
            write_deltalake(
                uri, staged.reader(), mode="append", partition_by=[PARTITION_COLUMN],
                configuration=TABLE_PROPERTIES, storage_options=options,
                commit_properties=properties,
            )
            return DeltaTable(uri, storage_options=options).version(), 0
        if predicate is None:  # nothing loaded, nothing to replace
            return handle.version(), 0
        replaced = _count(handle, predicate)
        write_deltalake(
            handle, staged.reader(), mode="overwrite", predicate=predicate,
            partition_by=[PARTITION_COLUMN], schema_mode="merge", commit_properties=properties,
        )
        return handle.version(), replaced

    def _open(self, uri: str) -> DeltaTable | None:
        try:
            return DeltaTable(uri, storage_options=self.location.storage_options or None)
        except TableNotFoundError:
            return None

    def version(self, table: str) -> int | None:
        """The current version of ``table``, ``None`` before its first load."""
        handle = self._open(self.location.table_uri(table))
        return None if handle is None else handle.version()

    # -- reading ---------------------------------------------------------------------------
    def query(self, table: str, statement: str, params: Sequence[object] = ()) -> pa.Table:
        dataset = self._dataset(table)
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.register(_QUERY_NAME, dataset)
            result: pa.Table = con.sql(
                statement.format(table=_QUERY_NAME), params=list(params)
            ).to_arrow_table()
        except duckdb.Error as exc:
            raise SinkError(f"delta {self.location.table_uri(table)}: {exc}") from exc
        finally:
            con.close()
        return result

    def read_table(self, table: str) -> pa.Table:
        dataset = self._dataset(table)
        columns = [n for n in dataset.schema.names if n not in DELTA_INTERNAL_COLUMNS]
        try:
            rows: pa.Table = dataset.to_table(columns=columns)
        except (OSError, pa.ArrowException) as exc:
            raise SinkError(f"delta {self.location.table_uri(table)}: {exc}") from exc
        return rows

    def _dataset(self, table: str) -> pa.dataset.Dataset:
        uri = self.location.table_uri(table)
        try:
            handle = self._open(uri)
            if handle is None:
                raise SinkError(f"delta {uri}: table {table!r} does not exist")
            return handle.to_pyarrow_dataset()
        except OSError as exc:
            raise TransientSinkError(f"delta {uri}: {_first_line(exc)}") from exc
        except DeltaError as exc:
            raise SinkError(f"delta {uri}: {_first_line(exc)}") from exc

    def close(self) -> None:
        """Nothing held open between calls: every load and query opens a fresh snapshot."""


def _count(handle: DeltaTable, predicate: str) -> int:
    """Rows of the current snapshot that ``predicate`` (the replace predicate) selects."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register(_QUERY_NAME, handle.to_pyarrow_dataset())
        row = con.execute(f"SELECT COUNT(*) FROM {_QUERY_NAME} WHERE {predicate}").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def _totals(staged: StagedLoad, load_id: str) -> list[PeriodTotal]:
    """Per-period, per-currency rows and cost sums of the staged load."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("focusflow_staged", staged.reader())
        names = [n for n in staged.schema.names if n not in DELTA_INTERNAL_COLUMNS]
        statement = sql.totals_statement("focusflow_staged", names)
        return sql.to_totals(con.execute(statement, [load_id]).fetchall())
    finally:
        con.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
