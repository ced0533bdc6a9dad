"""Staging a load for Delta: typed batches -> local Parquet files, one per billing month.

Layer: sinks. The incoming stream is written batch by batch to temporary Parquet files (memory
stays bounded by the batch size) with the explicit nullable schema the table is written with:
every FOCUS column keeps its declared type even when a file leaves it empty (Delta would record
an all-null Arrow column as ``void``), and the lineage columns are appended. Rows are split by
billing month, the table's partition: each staged part becomes one data file of the table, so
the commit can add the files without re-reading them. While staging, the billing periods of
each part are collected: they make the replace predicate and the file statistics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from focusflow.sinks.base import LOAD_COLUMN, PERIOD_COLUMN, SOURCE_COLUMN

PARTITION_COLUMN = "_focusflow_billing_month"
DELTA_INTERNAL_COLUMNS = (SOURCE_COLUMN, LOAD_COLUMN, PARTITION_COLUMN)
_LINEAGE = [
    pa.field(SOURCE_COLUMN, pa.string(), nullable=True),
    pa.field(LOAD_COLUMN, pa.string(), nullable=True),
]
_PARTITION = pa.field(PARTITION_COLUMN, pa.string(), nullable=True)


def file_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of a data file: every column nullable, then the lineage columns."""
    fields = [pa.field(f.name, f.type, nullable=True, metadata=f.metadata) for f in schema]
    return pa.schema(fields + _LINEAGE)


def table_schema(schema: pa.Schema) -> pa.Schema:
    """The table schema: the data file's columns plus the partition column."""
    return file_schema(schema).append(_PARTITION)


@dataclass
class StagedPart:
    """The rows of one billing month (``None``: rows without a period) in one local file."""

    path: Path
    month: str | None
    rows: int = 0
    null_periods: int = 0
    periods: set[datetime | None] = field(default_factory=set)


@dataclass
class StagedLoad:
    """A load written to local Parquet files, ready to commit (and re-commit on conflict)."""

    folder: Path
    file_schema: pa.Schema
    has_period: bool
    parts: dict[str | None, StagedPart] = field(default_factory=dict)

    @property
    def schema(self) -> pa.Schema:
        return self.file_schema.append(_PARTITION)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts.values())

    @property
    def periods(self) -> set[datetime | None]:
        return set().union(*(p.periods for p in self.parts.values()))

    def reader(self) -> pa.RecordBatchReader:
        """Stream the staged rows back with the partition column (for delta-rs and DuckDB)."""
        return pa.RecordBatchReader.from_batches(self.schema, self._batches())

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for part in self.parts.values():
            for batch in pq.ParquetFile(part.path).iter_batches(batch_size=65_536):
                month = pa.array([part.month] * batch.num_rows, pa.string())
                yield pa.RecordBatch.from_arrays([*batch.columns, month], schema=self.schema)

    def replace_predicate(self, source_id: str) -> str | None:
        """The rows this load replaces: the source's rows for the periods it carries.

        ``None`` means nothing to replace (the load has a period column but no rows). A load
        without a period column replaces every earlier row of its source, as the SQL sinks do.
        """
        where = f"{_ident(SOURCE_COLUMN)} = {_literal(source_id)}"
        if not self.has_period:
            return where
        if not self.parts:
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
    folder: Path,
) -> StagedLoad:
    """Write ``batches`` under ``folder``, split by month; exceptions from the stream propagate."""
    target = file_schema(schema)
    staged = StagedLoad(folder, target, PERIOD_COLUMN in schema.names)
    writers: dict[str | None, pq.ParquetWriter] = {}
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            typed = _conform(batch, schema, source_id, load_id, target)
            for month, rows in _by_month(typed, staged.has_period):
                part = staged.parts.get(month)
                if part is None:
                    part = StagedPart(folder / f"part-{len(staged.parts)}.parquet", month)
                    staged.parts[month] = part
                    writers[month] = pq.ParquetWriter(part.path, target, compression="zstd")
                writers[month].write_batch(rows)
                part.rows += rows.num_rows
                if staged.has_period:
                    period = rows.column(PERIOD_COLUMN)
                    part.periods.update(pc.unique(period).to_pylist())
                    part.null_periods += period.null_count
    finally:
        for writer in writers.values():
            writer.close()
    return staged


def _by_month(
    batch: pa.RecordBatch, has_period: bool
) -> Iterator[tuple[str | None, pa.RecordBatch]]:
    if not has_period:
        yield None, batch
        return
    months = pc.strftime(batch.column(PERIOD_COLUMN), format="%Y-%m")
    distinct = pc.unique(months).to_pylist()
    if len(distinct) == 1:  # the usual batch: one billing month, no copy
        yield distinct[0], batch
        return
    for month in distinct:
        mask = pc.is_null(months) if month is None else pc.equal(months, month)
        yield month, batch.filter(pc.fill_null(mask, False))


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
