"""The ingest job: read FOCUS reports from any location and load them into a sink."""

from focusflow.ingest.job import (
    IngestOptions,
    IngestOutcome,
    Progress,
    ingest,
    ingest_location,
    ingest_planned,
    write_rejects,
)

__all__ = [
    "IngestOptions",
    "IngestOutcome",
    "Progress",
    "ingest",
    "ingest_location",
    "ingest_planned",
    "write_rejects",
]
