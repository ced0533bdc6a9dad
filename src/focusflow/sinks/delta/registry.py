"""The Delta sink's loads registry: a small ``_focusflow_loads`` Delta table beside the data.

Layer: sinks. One row per committed load (table, source, load id, file fingerprint, rows, table
version, time). Before staging a load the sink asks for the source's last fingerprint: an
unchanged file then commits nothing, so its table keeps its version. The registry row is
appended after the data commit; appends from concurrent writers never conflict in Delta.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from focusflow.sinks.delta.config import DeltaLocation
from focusflow.sinks.identifiers import LOADS_TABLE

log = logging.getLogger(__name__)

REGISTRY_SCHEMA = pa.schema([
    pa.field("table_name", pa.string(), nullable=True),
    pa.field("source_id", pa.string(), nullable=True),
    pa.field("load_id", pa.string(), nullable=True),
    pa.field("fingerprint", pa.string(), nullable=True),
    pa.field("rows_written", pa.int64(), nullable=True),
    pa.field("table_version", pa.int64(), nullable=True),
    pa.field("loaded_at", pa.timestamp("us", tz="UTC"), nullable=True),
])


@dataclass(frozen=True)
class LoadRecord:
    table: str
    source_id: str
    load_id: str
    fingerprint: str | None
    rows_written: int
    table_version: int


class LoadsRegistry:
    """Reads and appends the ``_focusflow_loads`` table under a Delta root."""

    def __init__(self, location: DeltaLocation) -> None:
        self.uri = location.child(LOADS_TABLE)
        self._options = location.storage_options

    def previous_fingerprint(self, table: str, source_id: str) -> str | None:
        """The fingerprint of the source's latest load into ``table``, if any."""
        try:
            snapshot = DeltaTable(self.uri, storage_options=self._options)
        except TableNotFoundError:
            return None
        dataset = snapshot.to_pyarrow_dataset()
        mine = (pc.field("table_name") == table) & (pc.field("source_id") == source_id)
        rows = dataset.to_table(columns=["fingerprint", "loaded_at"], filter=mine)
        if rows.num_rows == 0:
            return None
        latest = rows.sort_by([("loaded_at", "descending")]).slice(0, 1)
        value: str | None = latest.column("fingerprint")[0].as_py()
        return value

    def record(self, entry: LoadRecord) -> None:
        row = pa.table({
            "table_name": [entry.table],
            "source_id": [entry.source_id],
            "load_id": [entry.load_id],
            "fingerprint": [entry.fingerprint],
            "rows_written": [entry.rows_written],
            "table_version": [entry.table_version],
            "loaded_at": [datetime.now(UTC)],
        }, schema=REGISTRY_SCHEMA)
        write_deltalake(
            self.uri, row, mode="append", storage_options=self._options or None,
            configuration={"delta.enableDeletionVectors": "false"},
        )
        log.debug("recorded load %s of %s into %s", entry.load_id, entry.source_id, entry.table)
