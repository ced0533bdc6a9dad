"""DuckDB sink: loads typed Arrow batches into a DuckDB file with replace-by-period semantics.

DuckDB scans an Arrow ``RecordBatchReader`` directly, so a load streams batch by batch into the
target table inside one transaction; the source's earlier rows for the same billing periods are
deleted in that transaction, and the loads registry records the file fingerprint so an
unchanged file is rolled back rather than rewritten. A Parquet report offered as a file
(``ParquetRows``) is read by DuckDB's own Parquet reader, typed column by column in the
``INSERT ... SELECT`` (``parquet.py``). DuckDB allows one writer process per file
(DESIGN section 4): the embedded default serves the CLI, the demo and single-pod setups.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from focusflow import interrupts
from focusflow.errors import FocusflowError, SinkError, TransientSinkError
from focusflow.focus.catalogue import DataType
from focusflow.focus.schema import LayoutColumn, is_json_field
from focusflow.lazy import lazy_module
from focusflow.sinks import sql
from focusflow.sinks.base import (
    INTERNAL_COLUMNS,
    LOAD_COLUMN,
    PERIOD_COLUMN,
    SOURCE_COLUMN,
    LoadRequest,
    LoadResult,
    ParquetRows,
    ParquetRowsRefused,
    TextRows,
    TextRowsRefused,
)
from focusflow.sinks.duckdb import arrow_typing, parquet
from focusflow.sinks.duckdb.casts import as_json, select_list
from focusflow.sinks.identifiers import quote, quote_table
from focusflow.sinks.readahead import read_ahead

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported at first use: a Parquet load into DuckDB never needs it
    pa = lazy_module("pyarrow")



def duckdb_type(field: pa.Field) -> str:
    """The DuckDB column type for a typed FOCUS field."""
    kind = field.type
    if is_json_field(field):
        return "JSON"
    if pa.types.is_decimal(kind):
        return f"DECIMAL({kind.precision}, {kind.scale})"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP WITH TIME ZONE" if kind.tz else "TIMESTAMP"
    simple = ((pa.types.is_integer, "BIGINT"), (pa.types.is_floating, "DOUBLE"),
              (pa.types.is_boolean, "BOOLEAN"))
    return next((name for test, name in simple if test(kind)), "VARCHAR")


class DuckDBSink:
    """A DuckDB database file (or ``:memory:``) as a sink."""

    name = "duckdb"

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = str(path)
        if self.path != ":memory:" and not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            raise TransientSinkError(f"duckdb {self.path}: {exc}") from exc
        except duckdb.Error as exc:
            raise SinkError(f"duckdb {self.path}: {exc}") from exc
        self._con.execute("SET TimeZone = 'UTC'")
        self._load_settings: list[str] = []  # SET for the load in progress, RESET after

    # -- loading ---------------------------------------------------------------------------
    def load(self, request: LoadRequest) -> LoadResult:
        table_sql = quote_table(request.table)
        result = LoadResult(request.table, request.source_id)
        con = self._con
        try:
            con.execute(sql.LOADS_DDL)
            previous = self._previous_fingerprint(request)
            if request.known_fingerprint is not None and previous == request.known_fingerprint:
                result.unchanged = True
                return result
            con.begin()
            try:
                result = self._load_in_transaction(request, table_sql, previous)
            except BaseException:
                con.rollback()
                raise
            finally:
                self._reset_load_settings()
        except FocusflowError:
            raise
        except duckdb.Error as exc:
            interrupts.check()  # DuckDB's InterruptException: a stop request, not a failure
            raise SinkError(f"duckdb {self.path}: loading {request.table} failed: {exc}") from exc
        return result

    def _cap_memory(self) -> None:
        # DuckDB keeps up to 80% of RAM as buffers by default; a Parquet scan streams row
        # groups, so a bounded pool keeps peak memory near the reference's with the same CPU.
        # The same holds for text rows, whose written row groups DuckDB otherwise keeps too.
        threads = self._con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        self._set_for_load("memory_limit", f"'{max(256, 128 * int(threads))}MB'")

    def _use_half_the_cores(self) -> None:
        # Text rows fed from Python arrive from Arrow's CSV parser, which runs on its own
        # threads: DuckDB on every core as well oversubscribes them, and its threads contend
        # for the one Python stream. Half the cores for DuckDB cut the CPU time of a 200k-row
        # load by a quarter and its wall time too. A Parquet file read by DuckDB itself: on
        # every core (2) the INSERT cost 0.1 s more CPU and the checkpoint at close 0.25 s,
        # against 0.01 s on one, and the wall time was no shorter (docs/ingest.md, "Performance").
        # A typed stream (allocation rows, a scraper's snapshot) likewise: 12 hours of 10k-pod
        # allocation rows took 0.24 s of CPU on one thread against 0.32 s on two.
        threads = self._con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        self._set_for_load("threads", str(max(1, int(threads) // 2)))

    def _set_for_load(self, name: str, value: str) -> None:
        """SET a DuckDB option (a constant of this module) for the load in progress only."""
        self._con.execute(f"SET {name} = {value}")
        self._load_settings.append(name)

    def _reset_load_settings(self) -> None:
        # After the transaction ends: an aborted one refuses even RESET.
        while self._load_settings:
            self._con.execute(f"RESET {self._load_settings.pop()}")

    def _previous_fingerprint(self, request: LoadRequest) -> str | None:
        # fetchall: a half-fetched result blocks the connection's next statement (duckdb 2).
        rows = self._con.execute(
            sql.previous_fingerprint_statement(), [request.table, request.source_id]
        ).fetchall()
        return rows[0][0] if rows else None

    def _load_in_transaction(
        self, request: LoadRequest, table_sql: str, previous: str | None
    ) -> LoadResult:
        con = self._con
        columns_typed = _columns(request)
        self._ensure_table(table_sql, columns_typed)
        load_id = uuid.uuid4().hex
        names = [name for name, _ in columns_typed]
        failure: list[BaseException] = []
        from_parquet = _parquet_source(request.parquet)
        untyped = from_parquet is not None or request.text is not None
        incoming, source, selected, params, checks = self._incoming(
            request, from_parquet, failure)
        columns = ", ".join(quote(n) for n in names)
        try:
            # DuckDB pulls the incoming stream through Python: a signal cancels the query
            with interrupts.deferred(con.interrupt):
                if incoming is not None:
                    con.register("focusflow_incoming", incoming)
                for check in checks:
                    con.execute(check, params).fetchall()
                con.execute(
                    f"INSERT INTO {table_sql} ({columns}, {quote(SOURCE_COLUMN)}, "
                    f"{quote(LOAD_COLUMN)}) SELECT {selected}, ?, ? FROM {source}",
                    [request.source_id, load_id, *params],
                )
            interrupts.check()  # a signal the query finished before noticing
        except duckdb.Error as exc:
            interrupts.check()  # a signal DuckDB noticed mid-query is never "rows refused"
            if failure:  # the reader's own error (bad row) is the real cause
                raise failure[0] from None
            if from_parquet is not None:  # the text rows may still load it
                raise ParquetRowsRefused(str(exc)) from exc
            if untyped:  # a value for the authority (Arrow typing) to judge
                raise TextRowsRefused(str(exc)) from exc
            raise
        finally:
            with contextlib.suppress(duckdb.TransactionException):  # aborted: rolled back above
                con.unregister("focusflow_incoming")
        fingerprint = request.known_fingerprint or (
            request.fingerprint() if request.fingerprint else None
        )
        result = LoadResult(request.table, request.source_id)
        if fingerprint is not None and fingerprint == previous:
            con.rollback()
            result.unchanged = True
            return result
        has_period = PERIOD_COLUMN in self._table_columns(request.table)
        deleted = con.execute(
            sql.replace_statement(table_sql, has_period),
            sql.replace_params(request.source_id, load_id, has_period),
        ).fetchone()
        totals = con.execute(sql.totals_statement(table_sql, names), [load_id]).fetchall()
        result.totals = sql.to_totals(totals)
        result.rows_written = sum(t.rows for t in result.totals)
        result.rows_replaced = int(deleted[0]) if deleted else 0
        con.execute(sql.record_load_statement(), [
            request.table, request.source_id, load_id, fingerprint, result.rows_written,
            datetime.now(UTC),
        ])
        interrupts.check()
        interrupts.hold()  # a signal now waits for the COMMIT and the caller's record of it
        con.commit()
        return result

    def _incoming(
        self, request: LoadRequest, from_parquet: tuple[str, parquet.Plan, list[object]] | None,
        failure: list[BaseException],
    ) -> tuple[pa.RecordBatchReader | None, str, str, list[object], list[str]]:
        """(Arrow stream to register or None, FROM clause, SELECT list, parameters, checks)."""
        # Every load streams (a Parquet scan, text rows typed on one thread, a typed stream as
        # long as an allocation window): a bounded pool writes the open transaction's row
        # groups out instead of keeping them. In ":memory:" the pool holds the data itself.
        if self.path != ":memory:":
            self._cap_memory()
        self._use_half_the_cores()
        if from_parquet is not None:
            source, typing, params = from_parquet
            return None, source, typing.select, params, typing.checks
        if request.text is not None:
            incoming, selected = _typed_in_database(request.text, failure)
        else:
            incoming, selected = _typed_by_reader(request, failure)
        return incoming, "focusflow_incoming", selected, [], []

    def _ensure_table(self, table_sql: str, columns: list[tuple[str, str]]) -> None:
        parts = table_sql.split(".")
        if len(parts) == 2:
            self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {parts[0]}")
        definitions = [f"{quote(name)} {kind}" for name, kind in columns]
        definitions += [f"{quote(SOURCE_COLUMN)} VARCHAR", f"{quote(LOAD_COLUMN)} VARCHAR"]
        self._con.execute(f"CREATE TABLE IF NOT EXISTS {table_sql} ({', '.join(definitions)})")
        existing = {name.lower() for name in self._columns_of(table_sql)}
        for name, kind in columns:
            if name.lower() not in existing:  # new x_ columns are added, never dropped
                self._con.execute(f"ALTER TABLE {table_sql} ADD COLUMN {quote(name)} {kind}")

    def _columns_of(self, table_sql: str) -> list[str]:
        return [row[0] for row in self._con.execute(f"DESCRIBE {table_sql}").fetchall()]

    def _table_columns(self, table: str) -> list[str]:
        return self._columns_of(quote_table(table))

    # -- reading ---------------------------------------------------------------------------
    def query(self, table: str, statement: str, params: Sequence[object] = ()) -> pa.Table:
        with self._translated_errors(table):
            return _arrow(self._con.sql(statement.format(table=quote_table(table)),
                                        params=list(params)))

    def query_rows(
        self, table: str, statement: str, params: Sequence[object] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """``query`` as (column names, rows), without Arrow (``base.query_rows``)."""
        with self._translated_errors(table):
            relation = self._con.sql(statement.format(table=quote_table(table)),
                                     params=list(params))
            return list(relation.columns), relation.fetchall()

    @contextlib.contextmanager
    def _translated_errors(self, table: str) -> Iterator[None]:
        try:
            yield
        except duckdb.CatalogException as exc:
            raise SinkError(f"duckdb {self.path}: table {table!r} does not exist") from exc
        except duckdb.Error as exc:  # the first line: DuckDB appends candidate lists
            raise SinkError(f"duckdb {self.path}: {str(exc).splitlines()[0]}") from exc

    def read_table(self, table: str) -> pa.Table:
        table_sql = quote_table(table)
        try:
            columns = [c for c in self._columns_of(table_sql) if c not in INTERNAL_COLUMNS]
        except duckdb.CatalogException as exc:
            raise SinkError(f"duckdb {self.path}: table {table!r} does not exist") from exc
        listing = ", ".join(quote(c) for c in columns)
        return _arrow(self._con.sql(f"SELECT {listing} FROM {table_sql}"))

    def close(self) -> None:
        self._con.close()


def _arrow(cursor: duckdb.DuckDBPyRelation) -> pa.Table:
    table: pa.Table = cursor.to_arrow_table()
    return table


def _typed_by_reader(
    request: LoadRequest, failure: list[BaseException]
) -> tuple[pa.RecordBatchReader, str]:
    reader = pa.RecordBatchReader.from_batches(
        request.schema, _capturing(request.batches, failure)
    )
    return reader, ", ".join(_select_expr(f) for f in request.schema)


def _typed_in_database(
    text: TextRows, failure: list[BaseException]
) -> tuple[pa.RecordBatchReader, str]:
    # Positional names: a header's spelling never has to survive SQL quoting twice.
    names = [f"c{index}" for index in range(len(text.layout.columns))]
    schema = arrow_typing.incoming_schema(text.layout, names)
    # Read ahead on two threads while DuckDB types and stores this batch (sinks/readahead.py):
    # one pulls Arrow's parser, one types the decimals, date-times and JSON of what it parsed
    # (arrow_typing.py). With both on one thread DuckDB waited for it 0.3-0.45 s of a 200k-row
    # load, with two about 0.05 s (docs/ingest.md).
    typed = arrow_typing.typed_batches(read_ahead(text.batches), text.layout, schema)
    reader = pa.RecordBatchReader.from_batches(schema, _capturing(read_ahead(typed), failure))
    return reader, select_list(text.layout, names)


def _columns(request: LoadRequest) -> list[tuple[str, str]]:
    """(name, DuckDB type) of the request's columns. Rows offered as a Parquet file are typed
    by their layout, as ``Layout.schema`` types them, without building that Arrow schema (a
    Parquet load into DuckDB never imports pyarrow)."""
    if request.parquet is not None:
        return [(c.name, layout_duckdb_type(c)) for c in request.parquet.layout.columns]
    return [(f.name, duckdb_type(f)) for f in request.schema]


def layout_duckdb_type(column: LayoutColumn) -> str:
    """The DuckDB type of a layout column: ``duckdb_type`` of its Arrow field."""
    spec = column.catalogue
    if column.is_json:
        return "JSON"
    if spec is not None and spec.data_type is DataType.DECIMAL:
        return "DECIMAL(38, 18)"
    if spec is not None and spec.data_type is DataType.DATETIME:
        return "TIMESTAMP WITH TIME ZONE"
    return "VARCHAR"


def _parquet_source(rows: ParquetRows | None) -> tuple[str, parquet.Plan, list[object]] | None:
    """(FROM clause, typing plan, parameters) reading ``rows``' file with DuckDB's Parquet
    reader, or None when the file has a column type without an exact fast path."""
    if rows is None or len(rows.kinds) != len(rows.layout.columns):
        return None
    # Positional names: a header's spelling (even a duplicate) never has to survive SQL quoting.
    names = [f"c{index}" for index in range(len(rows.layout.columns))]
    source = f"read_parquet(?, hive_partitioning = false) AS p({', '.join(names)})"
    typing = parquet.plan(rows.layout, rows.kinds, names, source)
    if typing is None:
        return None
    return source, typing, [rows.claim()]


def _select_expr(field: pa.Field) -> str:
    name = quote(field.name)
    return as_json(name) if is_json_field(field) else name


def _capturing(batches: Any, failure: list[BaseException]) -> Iterator[pa.RecordBatch]:
    """Yield the batches; remember an exception so it is not lost inside DuckDB's wrapper."""
    try:
        yield from batches
    except BaseException as exc:
        failure.append(exc)
        raise
