"""Ingest one FOCUS report into a sink: reader -> typed batches -> ``Sink.load``.

Orchestration only: the reader streams and types the rows, the sink owns the transaction. The
source identity defaults to the report's location (credential-free), so re-ingesting the same
location replaces its earlier rows for the same billing periods.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from focusflow.focus import FocusReader, HttpOptions, Reject
from focusflow.sinks import LoadRequest, LoadResult, Sink

Progress = Callable[[int, int | None, int], None]
"""Called as (bytes read, total bytes or None, rows read) while a file streams."""


@dataclass(frozen=True)
class IngestOptions:
    table: str = "focus"
    source_id: str | None = None
    focus_version: str | None = None
    skip_invalid: bool = False
    http: HttpOptions = field(default_factory=HttpOptions)


@dataclass
class IngestOutcome:
    uri: str
    name: str
    source_id: str
    result: LoadResult
    bytes_read: int
    rejects: list[Reject]
    focus_version: str


def ingest(
    uri: str, sink: Sink, options: IngestOptions, progress: Progress | None = None
) -> IngestOutcome:
    """Load ``uri`` into ``sink``; raises ``InputError``/``SourceError``/``SinkError``."""
    with FocusReader(
        uri, http=options.http, focus_version=options.focus_version,
        skip_invalid=options.skip_invalid,
    ) as reader:
        source_id = options.source_id or _default_source_id(reader.name)

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader.batches():
                if progress:
                    progress(reader.bytes_read, reader.total_bytes, reader.rows_read)
                yield batch

        result = sink.load(LoadRequest(
            table=options.table, source_id=source_id, schema=reader.schema,
            batches=batches(), fingerprint=lambda: reader.fingerprint,
        ))
        if progress:
            progress(reader.bytes_read, reader.total_bytes, reader.rows_read)
        return IngestOutcome(
            uri, reader.name, source_id, result, reader.bytes_read, reader.rejects,
            reader.layout.version,
        )


def _default_source_id(name: str) -> str:
    path = Path(name)
    return str(path.resolve()) if "://" not in name and path.exists() else name


def write_rejects(path: Path, outcomes: list[IngestOutcome]) -> int:
    """Write every quarantined row to ``path`` as CSV (file, row, column, value, reason)."""
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "row", "column", "value", "reason"])
        for outcome in outcomes:
            for reject in outcome.rejects:
                writer.writerow([outcome.name, reject.row, reject.column, reject.value,
                                 reject.reason])
                count += 1
    return count
