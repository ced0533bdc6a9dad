"""The contract every sink implements, and the value objects that cross it.

A load is (table, source identity, billing periods): ``Sink.load`` writes a stream of typed
batches so that, in one transaction or table version, the rows the same source loaded before
for the same billing periods are replaced by the new ones. A load whose fingerprint equals the
source's previous load changes nothing. A failed load commits nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from focusflow.focus.parquet_types import ColumnKind
from focusflow.focus.schema import Layout
from focusflow.lazy import lazy_module
from focusflow.sinks.identifiers import writable_table_name

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported at first use: a Parquet load into DuckDB never needs it
    pa = lazy_module("pyarrow")

SOURCE_COLUMN = "_focusflow_source"
LOAD_COLUMN = "_focusflow_load_id"
INTERNAL_COLUMNS = (SOURCE_COLUMN, LOAD_COLUMN)
PERIOD_COLUMN = "BillingPeriodStart"


@dataclass(init=False)
class LoadRequest:
    """What to load: typed batches from one source into one table.

    ``schema`` may be given as a function returning it, called on first use: a sink that reads
    the rows as ``parquet`` never asks, and building an Arrow schema imports pyarrow.
    """

    table: str
    source_id: str
    batches: Iterable[pa.RecordBatch]
    # Called after the batches are exhausted; equal to the previous load's -> nothing changes.
    fingerprint: Callable[[], str] | None
    # Known before reading (e.g. an exporter snapshot id): lets a sink skip without reading.
    known_fingerprint: str | None
    # The same rows untyped, for a sink that types them faster itself (see ``TextRows``).
    text: TextRows | None
    # The same rows as a local Parquet file, for a sink that reads Parquet itself.
    parquet: ParquetRows | None
    _schema: pa.Schema | Callable[[], pa.Schema]

    def __init__(  # noqa: PLR0917 - positional, as the dataclass's own __init__ was
        self, table: str, source_id: str, schema: pa.Schema | Callable[[], pa.Schema],
        batches: Iterable[pa.RecordBatch], fingerprint: Callable[[], str] | None = None,
        known_fingerprint: str | None = None, text: TextRows | None = None,
        parquet: ParquetRows | None = None,
    ) -> None:
        writable_table_name(table)  # before any row is read: a clear refusal, not a driver's
        self.table, self.source_id, self._schema = table, source_id, schema
        self.batches, self.fingerprint = batches, fingerprint
        self.known_fingerprint, self.text, self.parquet = known_fingerprint, text, parquet

    @property
    def schema(self) -> pa.Schema:
        if callable(self._schema):
            self._schema = self._schema()
        return self._schema


@dataclass
class TextRows:
    """A load's rows before typing: every column a string, in ``layout`` order.

    A sink may type these in the database instead of reading ``LoadRequest.batches`` (never
    both). The reader's Arrow conversion stays the authority on what a value means: when the
    database refuses a value, the sink commits nothing and raises ``TextRowsRefused``, and the
    caller loads again from typed batches, which either load it or name its row and column.
    """

    layout: Layout
    batches: Iterable[pa.RecordBatch]


@dataclass
class ParquetRows:
    """A load's rows as a local Parquet file whose columns (``kinds``: what Arrow reads them
    as, ``focus/parquet_types.py``) are aligned with ``layout``.

    A sink that reads Parquet itself may type these columns in the database (never together
    with ``batches`` or ``text``); like ``TextRows`` it commits nothing and raises
    ``ParquetRowsRefused`` when it meets a value it cannot type exactly as the reader would
    (the caller may then offer the text rows, then the typed batches).
    ``claim()`` returns the file's path once the sink commits to reading it (reading it counts
    as reading the report: the fingerprint is then final).
    """

    layout: Layout
    kinds: list[ColumnKind]
    claim: Callable[[], str]


class TextRowsRefused(Exception):  # noqa: N818 - a signal to retry, not a user-facing error
    """The sink's own typing refused a value; nothing was committed, retry with typed batches."""


class ParquetRowsRefused(TextRowsRefused):
    """The sink's typing of a Parquet file refused a value; nothing was committed. The text
    rows may still load (they type a value from its text, e.g. a double in an ``x_`` column
    that the Parquet path only takes between 0.0001 and 1e10)."""


@dataclass(frozen=True)
class PeriodTotal:
    """Rows and cost totals of one billing period and currency in a load."""

    period: datetime | None
    currency: str | None
    rows: int
    billed_cost: Decimal | None
    effective_cost: Decimal | None


@dataclass
class LoadResult:
    """What a load did."""

    table: str
    source_id: str
    rows_written: int = 0
    rows_replaced: int = 0
    unchanged: bool = False
    totals: list[PeriodTotal] = field(default_factory=list)

    @property
    def periods(self) -> list[datetime | None]:
        return sorted({t.period for t in self.totals}, key=lambda p: (p is None, p))


@runtime_checkable
class Sink(Protocol):
    """A place rows go: a database or a table format."""

    name: str

    def load(self, request: LoadRequest) -> LoadResult:
        """Replace the source's rows for the loaded billing periods, atomically."""
        ...

    def query(self, table: str, sql: str, params: Sequence[object] = ()) -> pa.Table:
        """Run ``sql`` with ``{table}`` standing for the quoted table; ``?`` binds params."""
        ...

    def read_table(self, table: str) -> pa.Table:
        """Every row of ``table`` as loaded (FOCUS and x_ columns; internal columns dropped)."""
        ...

    def close(self) -> None:
        ...


def query_rows(
    sink: Sink, table: str, sql: str, params: Sequence[object] = ()
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``sink.query`` as (column names, rows of Python values). A sink with a ``query_rows``
    of its own (DuckDB) answers without building an Arrow table: the registry reads before a
    Parquet load into DuckDB then never import pyarrow."""
    own = getattr(sink, "query_rows", None)
    if own is not None:
        answer: tuple[list[str], list[tuple[Any, ...]]] = own(table, sql, params)
        return answer
    result = sink.query(table, sql, params)
    return result.column_names, list(zip(*(c.to_pylist() for c in result.columns), strict=True))
