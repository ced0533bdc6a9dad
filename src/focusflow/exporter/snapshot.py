"""Immutable snapshots of a source's rows and their pre-rendered representations.

Layer: ``exporter``. A ``Snapshot`` is built completely off to the side (rows and Arrow IPC
bytes; the ``/metrics`` exposition too unless the exporter renders it on first request) and then
published by replacing one reference (``SnapshotHolder.swap``), so a reader sees either the old
or the new snapshot, never a half-built one (R15). A lazily rendered exposition is built once,
under a lock, and belongs to its snapshot. Its id is a
hash of the source bytes and the rendering settings: an unchanged source keeps its id, which is
the ``ETag`` the scraper sends back in ``If-None-Match``.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.csv as pacsv

from focusflow.exporter.decode import Decoded
from focusflow.exporter.exposition import Rendered

ARROW_STREAM = "application/vnd.apache.arrow.stream"


@dataclass(frozen=True)
class Snapshot:
    id: str
    decoded: Decoded
    arrow: bytes
    render: Callable[[], Rendered] = field(repr=False, compare=False)
    created_at: float = field(default_factory=time.time)
    _rendered: list[Rendered] = field(default_factory=list, repr=False, compare=False)
    _gzip: list[tuple[bytes, zlib._Compress]] = field(default_factory=list, repr=False,
                                                        compare=False)
    _csv: list[bytes] = field(default_factory=list, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def rows(self) -> int:
        return int(self.decoded.rows.num_rows)

    def exposition(self) -> Rendered:
        """The ``/metrics`` exposition of this snapshot, rendered on first use."""
        with self._lock:
            if not self._rendered:
                self._rendered.append(self.render())
            return self._rendered[0]

    def exposition_gzip(self, trailer: bytes) -> bytes:
        """``exposition + trailer`` as one gzip stream; the exposition is compressed once.

        The compressor is sync-flushed after the exposition and kept: each request copies it,
        compresses only its small trailer (the self-metrics) and finishes the stream.
        """
        rendered = self.exposition()
        with self._lock:
            if not self._gzip:
                compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                chunks = [compressor.compress(part) for part in rendered.parts]
                chunks.append(compressor.flush(zlib.Z_SYNC_FLUSH))
                self._gzip.append((b"".join(chunks), compressor))
            prefix, compressor = self._gzip[0]
            finisher = compressor.copy()
        return prefix + finisher.compress(trailer) + finisher.flush()

    @property
    def rendered(self) -> Rendered | None:
        """The exposition if it was rendered already (self-metrics must not trigger it)."""
        return self._rendered[0] if self._rendered else None

    def csv(self) -> bytes:
        """The rows as the source spelled them (text view), RFC 4180 quoting; built once."""
        with self._lock:
            if not self._csv:
                sink = io.BytesIO()
                pacsv.write_csv(self.decoded.text, sink,
                                write_options=pacsv.WriteOptions(quoting_style="needed"))
                self._csv.append(sink.getvalue())
            return self._csv[0]


def snapshot_id(body_digest: str, settings: str) -> str:
    return hashlib.sha256(f"{body_digest}\n{settings}".encode()).hexdigest()[:32]


def arrow_ipc(table: pa.Table) -> bytes:
    """The table as one Arrow IPC stream (schema, batches, end-of-stream marker)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=65_536)
    return bytes(sink.getvalue().to_pybytes())


class SnapshotHolder:
    """The current snapshot; replaced in one reference assignment."""

    def __init__(self) -> None:
        self._current: Snapshot | None = None

    @property
    def current(self) -> Snapshot | None:
        return self._current

    def swap(self, snapshot: Snapshot) -> None:
        self._current = snapshot  # a single assignment is atomic for readers
