"""Staging a load for Delta: typed batches -> one local Parquet file, plus what the commit needs.

Layer: sinks. The incoming stream is written batch by batch to a temporary Parquet file (memory
stays bounded by the batch size) with the explicit nullable schema the table is written with:
every FOCUS column keeps its declared type even when a file leaves it empty (Delta would record
an all-null Arrow column as ``void``), and the lineage and partition columns are appended. While
staging, the billing periods the load carries are collected: they make the replace predicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from focusflow.sinks.base import LOAD_COLUMN, PERIOD_COLUMN, SOURCE_COLUMN

PARTITION_COLUMN = "_focusflow_billing_month"
DELTA_INTERNAL_COLUMNS = (SOURCE_COLUMN, LOAD_COLUMN, PARTITION_COLUMN)
_LINEAGE = [
    pa.field(SOURCE_COLUMN, pa.string(), nullable=True),
    pa.field(LOAD_COLUMN, pa.string(), nullable=True),
    pa.field(PARTITION_COLUMN, pa.string(), nullable=True),
]


def table_schema(schema: pa.Schema) -> pa.Schema:
    """The schema written to Delta: every column nullable, then lineage and partition columns."""
    fields = [pa.field(f.name, f.type, nullable=True, metadata=f.metadata) for f in schema]
    return pa.schema(fields + _LINEAGE)


@dataclass
class StagedLoad:
    """A load written to a local Parquet file, ready to commit (and re-commit on conflict)."""

    path: Path
    schema: pa.Schema
    rows: int = 0
    periods: set[datetime | None] = field(default_factory=set)

    @property
    def has_period(self) -> bool:
        return PERIOD_COLUMN in self.schema.names

    def reader(self) -> pa.RecordBatchReader:
        """Stream the staged rows back (delta-rs consumes the reader batch by batch)."""
        reader: pa.RecordBatchReader = pads.dataset(self.path, format="parquet").scanner(
        ).to_reader()
        return reader

    def replace_predicate(self, source_id: str) -> str | None:
        """The rows this load replaces: the source's rows for the periods it carries.

        ``None`` means nothing to replace (the load has a period column but no rows). A load
        without a period column replaces every earlier row of its source, as the SQL sinks do.
        """
        where = f"{_ident(SOURCE_COLUMN)} = {_literal(source_id)}"
        if not self.has_period:
            return where
        if not self.periods:
            return None
        dated = sorted(p for p in self.periods if p is not None)
        clauses = []
        if dated:
            months = sorted({_month(p) for p in dated})
            # the partition column first, so both engines prune files before reading them
            clauses.append(
                f"({_ident(PARTITION_COLUMN)} IN ({', '.join(_literal(m) for m in months)}) "
                f"AND {_ident(PERIOD_COLUMN)} IN ({', '.join(_literal(_iso(p)) for p in dated)}))"
            )
        if None in self.periods:
            clauses.append(
                f"({_ident(PARTITION_COLUMN)} IS NULL AND {_ident(PERIOD_COLUMN)} IS NULL)"
            )
        return f"{where} AND ({' OR '.join(clauses)})"


def stage(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, source_id: str, load_id: str,
    path: Path,
) -> StagedLoad:
    """Write ``batches`` to ``path`` with lineage columns; exceptions from the stream propagate."""
    target = table_schema(schema)
    staged = StagedLoad(path, target)
    with pq.ParquetWriter(path, target, compression="zstd") as writer:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            typed = _conform(batch, schema, source_id, load_id, target)
            if staged.has_period:
                staged.periods.update(pc.unique(typed.column(PERIOD_COLUMN)).to_pylist())
            writer.write_batch(typed)
            staged.rows += batch.num_rows
    return staged


def _conform(
    batch: pa.RecordBatch, schema: pa.Schema, source_id: str, load_id: str, target: pa.Schema
) -> pa.RecordBatch:
    """Cast each column to its declared type (an all-null ``null`` column included)."""
    rows = batch.num_rows
    columns: list[pa.Array] = []
    for f in schema:
        index = batch.schema.get_field_index(f.name)
        if index < 0:
            columns.append(pa.nulls(rows, f.type))
            continue
        column = batch.column(index)
        columns.append(column if column.type == f.type else column.cast(f.type))
    columns.append(pa.array([source_id] * rows, pa.string()))
    columns.append(pa.array([load_id] * rows, pa.string()))
    if PERIOD_COLUMN in schema.names:
        period = columns[schema.get_field_index(PERIOD_COLUMN)]
        columns.append(pc.strftime(period, format="%Y-%m"))
    else:
        columns.append(pa.nulls(rows, pa.string()))
    return pa.RecordBatch.from_arrays(columns, schema=target)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    # delta-rs (DataFusion) and DuckDB both read '' inside a quoted literal as one quote
    return "'" + value.replace("'", "''") + "'"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")
