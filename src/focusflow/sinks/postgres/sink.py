"""PostgreSQL sink: loads typed Arrow batches with ``COPY ... FROM STDIN`` and replace-by-period.

Each Arrow batch is rendered to CSV by Arrow's own writer (vectorised; strings are always quoted
so an empty string stays ``""`` while a null is an unquoted empty field, which PostgreSQL's CSV
format reads as NULL) and streamed straight into the target table together with the two lineage
columns. Everything a load does happens in ONE transaction, serialised per (table, source) by a
transaction-scoped advisory lock: schema changes, the COPY, the delete of the source's earlier
rows for the loaded billing periods, and the loads registry. An unchanged file (same
fingerprint as the source's previous load) is rolled back; a failure or a killed client leaves
nothing behind. Schema changes (create table, add column, the two lineage indexes) additionally
take one global DDL advisory lock, so concurrent first loads do not race on the catalogue.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from focusflow import interrupts
from focusflow.errors import FocusflowError, SinkError
from focusflow.focus.schema import JSON_METADATA, is_json_field
from focusflow.sinks import sql
from focusflow.sinks.base import (
    INTERNAL_COLUMNS,
    LOAD_COLUMN,
    PERIOD_COLUMN,
    SOURCE_COLUMN,
    LoadRequest,
    LoadResult,
)
from focusflow.sinks.identifiers import LOADS_TABLE, MAX_IDENTIFIER_BYTES, quote, quote_table
from focusflow.sinks.postgres.connection import PostgresConfig

P = "%s"  # psycopg's placeholder, for the statements shared in sinks/sql.py
_DDL_LOCK = "focusflow:ddl"
_CSV_OUT = pacsv.WriteOptions(include_header=False)
_NUMERIC = re.compile(r"numeric\((\d+),(\d+)\)")

_SIMPLE_TYPES = (
    (pa.types.is_integer, "bigint"),
    (pa.types.is_floating, "double precision"),
    (pa.types.is_boolean, "boolean"),
)

Connection = psycopg.Connection[tuple[Any, ...]]
Cursor = psycopg.Cursor[tuple[Any, ...]]


def postgres_type(field: pa.Field) -> str:
    """The PostgreSQL column type for a typed FOCUS field."""
    kind = field.type
    if is_json_field(field):
        return "jsonb"
    if pa.types.is_decimal(kind):
        return f"NUMERIC({kind.precision},{kind.scale})"
    if pa.types.is_timestamp(kind):
        return "timestamptz" if kind.tz else "timestamp"
    for test, name in _SIMPLE_TYPES:
        if test(kind):
            return name
    return "text"


def check_identifier(name: str) -> None:
    """Refuse names PostgreSQL would silently truncate to 63 bytes (and so could collide)."""
    size = len(name.encode("utf-8"))
    if size > MAX_IDENTIFIER_BYTES:
        raise SinkError(
            f"column name {name!r} is {size} bytes long; PostgreSQL identifiers hold at most "
            f"{MAX_IDENTIFIER_BYTES} bytes (longer ones are silently truncated): rename the column"
        )


class PostgresSink:
    """A PostgreSQL database as a sink; one connection, one transaction per load."""

    name = "postgres"

    def __init__(self, url: str) -> None:
        self.config = PostgresConfig.from_url(url)
        self.display = self.config.display
        self._con: Connection = self.config.connect()

    # -- loading ---------------------------------------------------------------------------
    def load(self, request: LoadRequest) -> LoadResult:
        table_sql = quote_table(request.table)
        for name in [*request.schema.names, *INTERNAL_COLUMNS]:
            check_identifier(name)
        try:
            with self._con.cursor() as cur:
                return self._load(cur, request, table_sql)
        except psycopg.Error as exc:
            self._rollback()
            interrupts.check()  # a query cancelled by the stop signal is the stop, not a failure
            raise self.config.error(exc, f"loading {request.table} failed") from exc
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # The load already failed; a dead connection cannot roll back, and the server
        # discards the open transaction when the connection goes, so there is nothing to do.
        try:
            self._con.rollback()
        except psycopg.Error:
            return

    def _load(self, cur: Cursor, request: LoadRequest, table_sql: str) -> LoadResult:
        result = LoadResult(request.table, request.source_id)
        # Naive date-times in the COPY data are UTC: pin it even if a pooler drops options.
        cur.execute("SET LOCAL TimeZone = 'UTC'")
        cur.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
            [request.table, request.source_id],
        )
        self._ensure_loads_table(cur)
        previous = self._previous_fingerprint(cur, request)
        if request.known_fingerprint is not None and previous == request.known_fingerprint:
            self._con.rollback()
            result.unchanged = True
            return result
        self._ensure_table(cur, table_sql, request.schema)
        load_id = uuid.uuid4().hex
        self._copy(cur, request, table_sql, load_id)
        fingerprint = request.known_fingerprint or (
            request.fingerprint() if request.fingerprint else None
        )
        if fingerprint is not None and fingerprint == previous:
            self._con.rollback()
            result.unchanged = True
            return result
        has_period = PERIOD_COLUMN in self._columns(cur, table_sql)
        cur.execute(
            sql.replace_statement(table_sql, has_period, P),
            sql.replace_params(request.source_id, load_id, has_period),
        )
        result.rows_replaced = max(cur.rowcount, 0)
        cur.execute(sql.totals_statement(table_sql, request.schema.names, P), [load_id])
        result.totals = sql.to_totals(cur.fetchall())
        result.rows_written = sum(t.rows for t in result.totals)
        cur.execute(sql.record_load_statement(P), [
            request.table, request.source_id, load_id, fingerprint, result.rows_written,
            datetime.now(UTC),
        ])
        interrupts.check()
        interrupts.hold()  # a signal now waits for the COMMIT and the caller's record of it
        self._con.commit()
        return result

    def _copy(self, cur: Cursor, request: LoadRequest, table_sql: str, load_id: str) -> None:
        names = [*request.schema.names, SOURCE_COLUMN, LOAD_COLUMN]
        columns = ", ".join(quote(n) for n in names)
        with cur.copy(f"COPY {table_sql} ({columns}) FROM STDIN (FORMAT CSV)") as copy:
            for batch in request.batches:
                if batch.num_rows:
                    copy.write(memoryview(_csv_block(batch, request.source_id, load_id)))

    def _ensure_loads_table(self, cur: Cursor) -> None:
        cur.execute("SELECT to_regclass(%s)", [quote(LOADS_TABLE)])
        row = cur.fetchone()
        if row is None or row[0] is None:
            self._ddl_lock(cur)
            cur.execute(sql.LOADS_DDL)

    def _ensure_table(self, cur: Cursor, table_sql: str, schema: pa.Schema) -> None:
        existing = set(self._columns(cur, table_sql))
        wanted = [*schema, pa.field(SOURCE_COLUMN, pa.string()), pa.field(LOAD_COLUMN, pa.string())]
        if existing and all(f.name in existing for f in wanted):
            return
        self._ddl_lock(cur)
        parts = table_sql.split(".")
        if len(parts) == 2:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {parts[0]}")
        definitions = ", ".join(f"{quote(f.name)} {postgres_type(f)}" for f in wanted)
        cur.execute(f"CREATE TABLE IF NOT EXISTS {table_sql} ({definitions})")
        for field in wanted:  # new x_ columns are added, never dropped
            cur.execute(
                f"ALTER TABLE {table_sql} ADD COLUMN IF NOT EXISTS "
                f"{quote(field.name)} {postgres_type(field)}"
            )
        self._ensure_indexes(cur, table_sql)

    def _ensure_indexes(self, cur: Cursor, table_sql: str) -> None:
        """Indexes that keep a load's own statements off full-table scans as the table grows.

        The totals and the replaced periods look rows up by load id; the delete by (source,
        period). Both keys repeat over many rows, which B-tree deduplication stores compactly.
        """
        stem = "ff_" + hashlib.sha1(table_sql.encode(), usedforsecurity=False).hexdigest()[:16]
        cur.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(stem + '_load')} ON {table_sql} "
            f"({quote(LOAD_COLUMN)})"
        )
        if PERIOD_COLUMN in self._columns(cur, table_sql):
            cur.execute(
                f"CREATE INDEX IF NOT EXISTS {quote(stem + '_period')} ON {table_sql} "
                f"({quote(SOURCE_COLUMN)}, {quote(PERIOD_COLUMN)})"
            )

    def _ddl_lock(self, cur: Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s)::bigint)", [_DDL_LOCK])

    def _columns(self, cur: Cursor, table_sql: str) -> list[str]:
        return [name for name, _ in self._column_types(cur, table_sql)]

    def _column_types(self, cur: Cursor, table_sql: str) -> list[tuple[str, str]]:
        """(name, type) of each column in table order; empty when the table does not exist."""
        cur.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
            "ORDER BY attnum",
            [table_sql],
        )
        return [(str(name), str(kind)) for name, kind in cur.fetchall()]

    def _previous_fingerprint(self, cur: Cursor, request: LoadRequest) -> str | None:
        cur.execute(sql.previous_fingerprint_statement(P), [request.table, request.source_id])
        row = cur.fetchone()
        return str(row[0]) if row and row[0] is not None else None

    # -- reading ---------------------------------------------------------------------------
    def query(self, table: str, statement: str, params: Sequence[object] = ()) -> pa.Table:
        """Run a read-only ``statement`` (``{table}`` = the quoted table, ``?`` binds ``params``).

        ``?`` placeholders outside quotes become psycopg's ``%s``; use ``jsonb_exists()``
        rather than the jsonb ``?`` operator in statements given here. The transaction is
        rolled back afterwards: writes go through ``load`` only.
        """
        text = statement.format(table=quote_table(table))
        try:
            with self._con.cursor() as cur:
                if params:
                    cur.execute(_psycopg_placeholders(text), list(params))
                else:
                    cur.execute(text)
                names = [d.name for d in cur.description or []]
                rows = cur.fetchall() if cur.description else []
            self._con.rollback()  # reads leave no transaction open
        except psycopg.Error as exc:
            self._rollback()
            raise self._read_error(exc, table) from exc
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return pa.Table.from_arrays(
            [pa.array(list(values)) for values in columns], names=_unique(names)
        )

    def read_table(self, table: str) -> pa.Table:
        table_sql = quote_table(table)
        try:
            with self._con.cursor() as cur:
                columns = [
                    (n, k) for n, k in self._column_types(cur, table_sql)
                    if n not in INTERNAL_COLUMNS
                ]
                if not columns:
                    raise SinkError(f"postgres {self.display}: table {table!r} does not exist")
                listing = ", ".join(quote(n) for n, _ in columns)
                buffer = io.BytesIO()
                with cur.copy(f"COPY (SELECT {listing} FROM {table_sql}) TO STDOUT "
                              "(FORMAT CSV)") as copy:
                    for block in copy:
                        buffer.write(block)
            self._con.rollback()
        except FocusflowError:
            self._rollback()
            raise
        except psycopg.Error as exc:
            self._rollback()
            raise self._read_error(exc, table) from exc
        return _parse_csv(buffer.getvalue(), [arrow_field(n, k) for n, k in columns])

    def _read_error(self, exc: psycopg.Error, table: str) -> SinkError:
        if isinstance(exc, psycopg.errors.UndefinedTable):
            return SinkError(f"postgres {self.display}: table {table!r} does not exist")
        return self.config.error(exc, f"reading {table} failed")

    def close(self) -> None:
        self._con.close()


def arrow_field(name: str, pg_type: str) -> pa.Field:
    """The Arrow field a PostgreSQL column reads back as (inverse of ``postgres_type``)."""
    numeric = _NUMERIC.fullmatch(pg_type)
    if numeric and int(numeric[1]) <= 38:
        return pa.field(name, pa.decimal128(int(numeric[1]), int(numeric[2])))
    kinds = {
        "jsonb": pa.string(), "json": pa.string(),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"),
        "timestamp without time zone": pa.timestamp("us"),
        "bigint": pa.int64(), "integer": pa.int32(), "smallint": pa.int16(),
        "double precision": pa.float64(), "real": pa.float32(), "boolean": pa.bool_(),
        "date": pa.date32(),
    }
    metadata = JSON_METADATA if pg_type in {"jsonb", "json"} else None
    return pa.field(name, kinds.get(pg_type, pa.string()), metadata=metadata)


def _parse_csv(data: bytes, fields: list[pa.Field]) -> pa.Table:
    schema = pa.schema(fields)
    if not data:
        return schema.empty_table()
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=schema.names),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        # COPY ... CSV writes NULL unquoted-empty and an empty string as "": keep them apart.
        convert_options=pacsv.ConvertOptions(
            column_types=schema, null_values=[""], strings_can_be_null=True,
            quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"],
        ),
    ).cast(schema)


def _csv_block(batch: pa.RecordBatch, source_id: str, load_id: str) -> pa.Buffer:
    """One batch, plus the lineage columns, as CSV bytes for ``COPY ... (FORMAT CSV)``."""
    rows = batch.num_rows
    for index, field in enumerate(batch.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz:
            # Arrow formats zoned timestamps ~20x slower than naive ones; the naive form is
            # the UTC wall time, which the load's session (TimeZone UTC) reads back exactly.
            naive = batch.column(index).cast(pa.timestamp(field.type.unit))
            batch = batch.set_column(index, field.with_type(naive.type), naive)
    batch = batch.append_column(SOURCE_COLUMN, pa.repeat(source_id, rows))
    batch = batch.append_column(LOAD_COLUMN, pa.repeat(load_id, rows))
    out = pa.BufferOutputStream()
    pacsv.write_csv(batch, out, _CSV_OUT)
    buffer: pa.Buffer = out.getvalue()
    return buffer


_QUOTED_OR_MARK = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[?%]")


def _psycopg_placeholders(statement: str) -> str:
    """``?`` -> ``%s`` outside quoted literals and identifiers; every ``%`` -> ``%%``."""
    def swap(match: re.Match[str]) -> str:
        text = match.group(0)
        # psycopg scans the whole text for "%", quoted or not, so escape it everywhere.
        return "%s" if text == "?" else text.replace("%", "%%")

    return _QUOTED_OR_MARK.sub(swap, statement)


def _unique(names: list[str]) -> list[str]:
    """Result column names made unique (PostgreSQL names both ``SUM(a)`` and ``SUM(b)`` sum)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count + 1}")
    return out
