"""SQL shared by the SQL sinks (DuckDB, PostgreSQL): portable statements over quoted names.

Both engines speak the same dialect for what a load needs: the replace-by-period delete, the
per-period totals and the loads registry. Type names differ and stay in each sink.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from focusflow.lazy import lazy_module
from focusflow.sinks.base import (
    INTERNAL_COLUMNS,
    LOAD_COLUMN,
    PERIOD_COLUMN,
    SOURCE_COLUMN,
    PeriodTotal,
)
from focusflow.sinks.identifiers import LOADS_TABLE, quote

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported at first use: a Parquet load into DuckDB never needs it
    pa = lazy_module("pyarrow")

LOADS_DDL = f"""
CREATE TABLE IF NOT EXISTS {quote(LOADS_TABLE)} (
    table_name VARCHAR NOT NULL,
    source_id VARCHAR NOT NULL,
    load_id VARCHAR NOT NULL,
    fingerprint VARCHAR,
    rows_written BIGINT NOT NULL,
    loaded_at TIMESTAMP WITH TIME ZONE NOT NULL
)"""


def replace_statement(table_sql: str, has_period: bool, placeholder: str = "?") -> str:
    """Delete the source's earlier rows for the periods the new load (by load id) carries."""
    p = placeholder
    src, load = quote(SOURCE_COLUMN), quote(LOAD_COLUMN)
    if not has_period:
        return f"DELETE FROM {table_sql} WHERE {src} = {p} AND {load} <> {p}"
    period = quote(PERIOD_COLUMN)
    return (
        f"DELETE FROM {table_sql} WHERE {src} = {p} AND {load} <> {p} AND {period} IN "
        f"(SELECT DISTINCT {period} FROM {table_sql} WHERE {load} = {p})"
    )


def replace_params(source_id: str, load_id: str, has_period: bool) -> list[str]:
    return [source_id, load_id, load_id] if has_period else [source_id, load_id]


def totals_statement(table_sql: str, names: Sequence[str], placeholder: str = "?") -> str:
    """Rows and cost sums per billing period and currency of one load."""
    def pick(column: str, cast: str = "") -> str:
        return quote(column) if column in names else f"CAST(NULL AS {cast or 'VARCHAR'})"

    period = pick(PERIOD_COLUMN, "TIMESTAMP WITH TIME ZONE")
    currency = pick("BillingCurrency")
    billed = f"SUM({quote('BilledCost')})" if "BilledCost" in names else "NULL"
    effective = f"SUM({quote('EffectiveCost')})" if "EffectiveCost" in names else "NULL"
    return (
        f"SELECT {period}, {currency}, COUNT(*), {billed}, {effective} FROM {table_sql} "
        f"WHERE {quote(LOAD_COLUMN)} = {placeholder} GROUP BY 1, 2 ORDER BY 1, 2"
    )


def to_totals(rows: Sequence[Sequence[Any]]) -> list[PeriodTotal]:
    return [
        PeriodTotal(
            period=row[0] if isinstance(row[0], datetime) else None,
            currency=row[1],
            rows=int(row[2]),
            billed_cost=Decimal(row[3]) if row[3] is not None else None,
            effective_cost=Decimal(row[4]) if row[4] is not None else None,
        )
        for row in rows
    ]


def previous_fingerprint_statement(placeholder: str = "?") -> str:
    return (
        f"SELECT fingerprint FROM {quote(LOADS_TABLE)} WHERE table_name = {placeholder} "
        f"AND source_id = {placeholder} ORDER BY loaded_at DESC LIMIT 1"
    )


def record_load_statement(placeholder: str = "?") -> str:
    p = placeholder
    return (
        f"INSERT INTO {quote(LOADS_TABLE)} "
        f"(table_name, source_id, load_id, fingerprint, rows_written, loaded_at) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
    )


def user_columns(schema: pa.Schema) -> list[str]:
    return [name for name in schema.names if name not in INTERNAL_COLUMNS]
