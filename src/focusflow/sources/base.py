"""The ``Source`` protocol and the ``Fetched`` value it returns (see the package docstring).

Layer: ``sources``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from focusflow.lazy import lazy_module

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported at first use: a Parquet load into DuckDB never needs it
    pa = lazy_module("pyarrow")

@dataclass(frozen=True)
class Fetched:
    """What one fetch returned: raw bytes with their content type, or ready Arrow rows."""

    name: str
    body: bytes | None = None
    content_type: str | None = None
    table: pa.Table | None = None
    # Facts a decoder may use (e.g. the request path for Krateo's octet-stream rule).
    hints: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Source(Protocol):
    """Anything the exporter can poll."""

    name: str

    def fetch(self) -> Fetched:
        """One request to the source; raises ``SourceError`` (transient or not) on failure."""
        ...
