"""In-memory sink: replace-by-source-and-period over Arrow tables held in a dict.

It implements the ``Sink`` contract without an engine so that exporter, scraper and operator
tests can assert on what was loaded; ``query`` runs SQL through an in-memory DuckDB.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from focusflow.errors import SinkError
from focusflow.sinks.base import (
    LOAD_COLUMN,
    PERIOD_COLUMN,
    SOURCE_COLUMN,
    LoadRequest,
    LoadResult,
    PeriodTotal,
)
from focusflow.sinks.identifiers import validate_table_name


class MemorySink:
    """Keeps each table as an Arrow table with the two internal lineage columns."""

    name = "memory"

    def __init__(self) -> None:
        self.tables: dict[str, pa.Table] = {}
        self.fingerprints: dict[tuple[str, str], str | None] = {}
        self.writes = 0

    def load(self, request: LoadRequest) -> LoadResult:
        validate_table_name(request.table)
        result = LoadResult(request.table, request.source_id)
        key = (request.table, request.source_id)
        if request.known_fingerprint is not None and \
                self.fingerprints.get(key) == request.known_fingerprint:
            result.unchanged = True
            return result
        incoming = pa.Table.from_batches(list(request.batches), schema=request.schema)
        fingerprint = request.known_fingerprint or (
            request.fingerprint() if request.fingerprint else None)
        if fingerprint is not None and key in self.fingerprints and \
                self.fingerprints[key] == fingerprint:
            result.unchanged = True
            return result
        load_id = uuid.uuid4().hex
        incoming = incoming.append_column(
            SOURCE_COLUMN, pa.array([request.source_id] * incoming.num_rows, pa.string())
        ).append_column(LOAD_COLUMN, pa.array([load_id] * incoming.num_rows, pa.string()))
        current = self.tables.get(request.table)
        replaced = 0
        if current is not None:
            drop = pc.equal(current[SOURCE_COLUMN], request.source_id)
            if PERIOD_COLUMN in incoming.column_names and PERIOD_COLUMN in current.column_names:
                periods = pc.unique(incoming[PERIOD_COLUMN])
                drop = pc.and_(drop, pc.is_in(current[PERIOD_COLUMN], value_set=periods))
            replaced = pc.sum(pc.cast(drop, pa.int64())).as_py() or 0
            kept = current.filter(pc.invert(drop))
            incoming = pa.concat_tables([kept, incoming], promote_options="permissive")
        self.tables[request.table] = incoming
        self.fingerprints[key] = fingerprint
        self.writes += 1
        result.rows_replaced = replaced
        result.totals = _totals(incoming.filter(pc.equal(incoming[LOAD_COLUMN], load_id)))
        result.rows_written = sum(t.rows for t in result.totals)
        return result

    def query(self, table: str, sql: str, params: Sequence[object] = ()) -> pa.Table:
        if table not in self.tables:
            raise SinkError(f"memory: table {table!r} does not exist")
        con = duckdb.connect()
        con.register("t", self.tables[table])
        result: pa.Table = con.sql(sql.format(table="t"), params=list(params)).to_arrow_table()
        return result

    def read_table(self, table: str) -> pa.Table:
        return self.tables[table].drop_columns([SOURCE_COLUMN, LOAD_COLUMN])

    def close(self) -> None:
        """Nothing to release."""


def _totals(rows: pa.Table) -> list[PeriodTotal]:
    names = rows.column_names
    keys = [k for k in (PERIOD_COLUMN, "BillingCurrency") if k in names]
    measures = [(m, "sum") for m in ("BilledCost", "EffectiveCost") if m in names]
    if not keys:
        return [PeriodTotal(None, None, rows.num_rows, None, None)]
    grouped = rows.group_by(keys).aggregate([(LOAD_COLUMN, "count"), *measures]).to_pylist()
    return [
        PeriodTotal(
            g.get(PERIOD_COLUMN), g.get("BillingCurrency"), g[f"{LOAD_COLUMN}_count"],
            Decimal(g["BilledCost_sum"]) if g.get("BilledCost_sum") is not None else None,
            Decimal(g["EffectiveCost_sum"]) if g.get("EffectiveCost_sum") is not None else None,
        )
        for g in grouped
    ]
