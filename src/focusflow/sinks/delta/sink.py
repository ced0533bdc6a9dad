"""Delta Lake sink: FOCUS tables as Delta tables on a local path or S3, written by delta-rs.

Layer: sinks. A load stages its batches to local Parquet files, one per billing month (bounded
memory; nothing reaches the table if the stream fails), then commits ONE table version. The
common case copies the staged files into the table and, in the same transaction, removes the
files that held the source's earlier rows for those periods (file statistics prove it; see
``files.py``). When new ``x_*`` columns must be merged into the schema, or a file mixes
sources or periods, the sink falls back to ``write_deltalake(mode="overwrite", predicate=...)``,
a row-level replace (delta-rs buffers that write in memory). A concurrent writer's conflicting
commit (``CommitFailedError``) makes the sink reload the table and re-commit. Tables are
partitioned by billing month and keep deletion vectors off so the Arrow/DuckDB read path (and
older readers) keep working. Reads go through DuckDB over ``DeltaTable.to_pyarrow_dataset()``.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, create_table_with_add_actions

from focusflow import interrupts
from focusflow.errors import FocusflowError, SinkError, TransientSinkError
from focusflow.sinks import sql
from focusflow.sinks.base import (
    PERIOD_COLUMN,
    SOURCE_COLUMN,
    LoadRequest,
    LoadResult,
    PeriodTotal,
)
from focusflow.sinks.delta.config import DeltaLocation
from focusflow.sinks.delta.files import plan_removals, remove_actions, same_columns, upload
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
    # statistics for the columns replace decisions read, wherever they sit in a wide FOCUS row
    # (by default only the first 32 columns get statistics)
    "delta.dataSkippingStatsColumns": ",".join([SOURCE_COLUMN, PERIOD_COLUMN]),
}
MAX_COMMIT_ATTEMPTS = 5
HISTORY_LOOKBACK = 20  # recent commits searched for the source's last fingerprint
_QUERY_NAME = "focusflow_delta_table"


class DeltaSink:
    """A folder of Delta tables (local or ``s3://``) as a sink; one writer per table."""

    name = "delta"

    def __init__(self, location: DeltaLocation) -> None:
        self.location = location
        self.registry = LoadsRegistry(location)
        self.commit_attempts = 0  # commits tried by the last load (1 unless it hit conflicts)
        self.last_commit = ""  # how: "create", "files" (add/remove) or "rewrite" (row level)

    # -- loading ---------------------------------------------------------------------------
    def load(self, request: LoadRequest) -> LoadResult:
        uri = self.location.table_uri(request.table)
        try:
            return self._load(request, uri)
        except FocusflowError:
            raise
        except (CommitFailedError, _CreatedMeanwhile) as exc:
            raise TransientSinkError(
                f"delta {uri}: loading {request.table} kept conflicting with concurrent "
                f"writers after {MAX_COMMIT_ATTEMPTS} attempts: {_first_line(exc)}"
            ) from exc
        except (OSError, EndpointConnectionError) as exc:  # store unreachable, throttled
            raise TransientSinkError(f"delta {uri}: {_first_line(exc)}") from exc
        except (DeltaError, pa.ArrowException, duckdb.Error, BotoCoreError, ClientError) as exc:
            interrupts.check()  # DuckDB's InterruptException while staging: the stop itself
            raise SinkError(
                f"delta {uri}: loading {request.table} failed: {_first_line(exc)}"
            ) from exc

    def _load(self, request: LoadRequest, uri: str) -> LoadResult:
        result = LoadResult(request.table, request.source_id)
        # Opened before staging: a writer that commits meanwhile is a conflict we resolve.
        handle = self._open(uri)
        previous = self._previous_fingerprint(handle, request)
        if request.known_fingerprint is not None and previous == request.known_fingerprint:
            result.unchanged = True
            return result
        load_id = uuid.uuid4().hex
        with tempfile.TemporaryDirectory(prefix="focusflow-delta-") as tmp:
            staged = stage(
                request.batches, request.schema, request.source_id, load_id, Path(tmp),
            )
            fingerprint = request.known_fingerprint or (
                request.fingerprint() if request.fingerprint else None
            )
            if fingerprint is not None and fingerprint == previous:
                result.unchanged = True
                return result
            result.totals = _totals(staged, load_id)
            result.rows_written = staged.rows
            interrupts.check()
            interrupts.hold()  # a signal now waits for the commit and the caller's record of it
            version, result.rows_replaced = self._commit(
                uri, handle, staged, request, load_id=load_id, fingerprint=fingerprint
            )
        self._record(uri, LoadRecord(
            request.table, request.source_id, load_id, fingerprint, result.rows_written, version,
        ))
        log.info(
            "delta %s: load %s of %s wrote %d rows, replaced %d (version %d)",
            uri, load_id, request.source_id, result.rows_written, result.rows_replaced, version,
        )
        return result

    def _previous_fingerprint(self, handle: DeltaTable | None, request: LoadRequest) -> str | None:
        """The fingerprint of the source's last load: its own commit's metadata when recent
        (authoritative, and there even if the registry append after it was lost), else the
        registry's."""
        if handle is not None:
            for entry in handle.history(limit=HISTORY_LOOKBACK):
                if entry.get("focusflow.source") == request.source_id:
                    return str(entry.get("focusflow.fingerprint") or "") or None
        return self.registry.previous_fingerprint(request.table, request.source_id)

    def _record(self, uri: str, entry: LoadRecord) -> None:
        """Append to the registry; the data is committed already, so a failure only warns."""
        try:
            self.registry.record(entry)
        except (OSError, DeltaError, BotoCoreError, ClientError) as exc:
            log.warning("delta %s: load %s is committed (version %d) but the loads registry "
                        "could not record it: %s", uri, entry.load_id, entry.table_version,
                        _first_line(exc))

    def _commit(
        self, uri: str, handle: DeltaTable | None, staged: StagedLoad, request: LoadRequest, *,
        load_id: str, fingerprint: str | None,
    ) -> tuple[int, int]:
        """Commit the staged rows as one version; returns (version, rows replaced)."""
        commit = _Commit(request.source_id, load_id, CommitProperties(custom_metadata={
            "focusflow.source": request.source_id,
            "focusflow.load_id": load_id,
            "focusflow.fingerprint": fingerprint or "",
        }))
        self.commit_attempts = 0
        while True:
            self.commit_attempts += 1
            try:
                return self._commit_once(uri, handle, staged, commit)
            except (CommitFailedError, _CreatedMeanwhile):
                if self.commit_attempts >= MAX_COMMIT_ATTEMPTS:
                    raise
                log.warning(
                    "delta %s: load %s conflicted with a concurrent commit; reloading (attempt %d)",
                    uri, load_id, self.commit_attempts,
                )
                handle = self._open(uri)

    def _commit_once(
        self, uri: str, handle: DeltaTable | None, staged: StagedLoad, commit: _Commit,
    ) -> tuple[int, int]:
        options = self.location.storage_options
        if handle is None:  # the first load creates the table with its files
            self.last_commit = "create"
            return self._create(uri, staged, commit), 0
        predicate = staged.replace_predicate(commit.source_id)
        if predicate is None:  # nothing loaded, nothing to replace
            return handle.version(), 0
        if same_columns(handle, staged):
            removals = plan_removals(handle, staged, commit.source_id)
            if removals is not None:  # the common case: add and remove whole files
                self.last_commit = "files"
                handle.create_write_transaction(
                    [*commit.adds(staged, uri, options), *remove_actions(removals)],
                    mode="append", schema=handle.schema(), partition_by=[PARTITION_COLUMN],
                    commit_properties=commit.properties,
                )
                return self._version_after(uri, commit), sum(r.rows for r in removals)
        # Row-level rewrite: new x_ columns to merge, or files shared by sources or periods.
        # delta-rs buffers this write in memory (see docs/sinks.md).
        self.last_commit = "rewrite"
        replaced = _count(handle, predicate)
        write_deltalake(
            handle, staged.reader(), mode="overwrite", predicate=predicate,
            partition_by=[PARTITION_COLUMN], schema_mode="merge",
            commit_properties=commit.properties,
        )
        return handle.version(), replaced

    def _create(self, uri: str, staged: StagedLoad, commit: _Commit) -> int:
        options = self.location.storage_options
        try:
            create_table_with_add_actions(
                uri, DeltaSchema.from_arrow(staged.schema), commit.adds(staged, uri, options),
                mode="error", partition_by=[PARTITION_COLUMN], configuration=TABLE_PROPERTIES,
                storage_options=options or None, commit_properties=commit.properties,
            )
        except DeltaError as exc:
            if self._open(uri) is not None:  # another writer created it first: retry on it
                raise _CreatedMeanwhile(str(exc)) from exc
            raise
        return self._version_after(uri, commit)

    def _version_after(self, uri: str, commit: _Commit) -> int:
        """The version our commit made (later writers may have committed since)."""
        handle = self._open(uri)
        assert handle is not None  # noqa: S101 - we just committed to it
        for entry in handle.history(limit=MAX_COMMIT_ATTEMPTS * 4):
            if entry.get("focusflow.load_id") == commit.load_id:
                return int(entry["version"])
        return handle.version()

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


class _CreatedMeanwhile(Exception):  # noqa: N818 - a signal inside the commit loop
    """Another writer created the table between our check and our create."""


class _Commit:
    """What every attempt of one load's commit shares: identity, properties, uploaded files."""

    def __init__(self, source_id: str, load_id: str, properties: CommitProperties) -> None:
        self.source_id = source_id
        self.load_id = load_id
        self.properties = properties
        self._adds: list[AddAction] | None = None

    def adds(self, staged: StagedLoad, uri: str, options: dict[str, str]) -> list[AddAction]:
        """Upload the staged files once; a retried commit re-uses them."""
        if self._adds is None:
            self._adds = upload(staged, uri, options, source_id=self.source_id,
                                load_id=self.load_id)
        return self._adds


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
    if not staged.parts:
        return []
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        # read_parquet reads only the four columns the totals need (an Arrow reader would
        # hand DuckDB every column of every row)
        files = ", ".join("'" + str(p.path).replace("'", "''") + "'"
                          for p in staged.parts.values())
        names = [n for n in staged.schema.names if n not in DELTA_INTERNAL_COLUMNS]
        statement = sql.totals_statement(f"read_parquet([{files}])", names)
        return sql.to_totals(con.execute(statement, [load_id]).fetchall())
    finally:
        con.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
