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
from focusflow.ingest.rejects import RejectedRows, RejectLimit, RejectLimitError, write_rejects_csv

__all__ = [
    "IngestOptions",
    "IngestOutcome",
    "Progress",
    "RejectLimit",
    "RejectLimitError",
    "RejectedRows",
    "ingest",
    "ingest_location",
    "ingest_planned",
    "write_rejects",
    "write_rejects_csv",
]
