"""Immutable snapshots of a source's rows, held once, with their served forms derived.

Layer: ``exporter``. A ``Snapshot`` is built completely off to the side and then published by
replacing one reference (``SnapshotHolder.swap``), so a reader sees either the old or the new
snapshot, never a half-built one (R15). Its id is a hash of the source bytes and the rendering
settings: an unchanged source keeps its id, which is the ``ETag`` the scraper sends back in
``If-None-Match``.

Memory (a 200 MB report in a pod with a limit): the rows are held once. The Arrow IPC stream
that ``/rows`` serves is the canonical copy; the typed rows are zero-copy views on it, and
the text view (``/metrics`` labels, CSV) shares every column whose text is the typed value
itself, so only re-typed columns (costs, dates) keep a text copy of their own. The
``/metrics`` exposition (about twice the CSV) is kept only gzip-compressed (about a tenth):
it is rendered a slice of rows at a time into one gzip stream, once per snapshot, which is
what Prometheus asks for; a client without gzip gets it decompressed as it reads. Every
served form streams: the held Arrow and gzip buffers as views, the plain exposition inflated
and the CSV written about ``PART_BYTES`` at a time as the client takes them, so a request holds
one part, never the body (issue 15: one plain request once cost +270 MB).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from zlib_ng import zlib_ng as zlib

from focusflow.exporter.decode import Decoded
from focusflow.exporter.exposition import Exposition, Rendered

ARROW_STREAM = "application/vnd.apache.arrow.stream"
# zlib-ng (a drop-in zlib) level 2: 1.1 s CPU for a 451 MB exposition where zlib level 1
# takes 2.1 s, and a smaller stream (37 MB vs 39 MB); inflating is 2x faster too.
_GZIP_LEVEL = 2
PART_BYTES = 1 << 20  # about this much body is made per step of a streamed response


@dataclass(frozen=True)
class Counts:
    """What the self-metrics report about a rendered exposition."""

    series: int
    skipped: int
    size: int = 0  # bytes of the plain exposition


@dataclass(frozen=True)
class _Compressed:
    stream: bytes  # the exposition as gzip, sync-flushed (no trailer yet)
    compressor: zlib._Compress  # its state after the flush: copied to finish each response
    counts: Counts


@dataclass(frozen=True)
class Snapshot:
    id: str
    decoded: Decoded
    arrow: pa.Buffer
    render: Callable[[], Exposition] = field(repr=False, compare=False)
    created_at: float = field(default_factory=time.time)
    _metrics: list[_Compressed] = field(default_factory=list, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def rows(self) -> int:
        return int(self.decoded.rows.num_rows)

    def compress_metrics(self) -> Counts:
        """Render and compress the exposition now (the exporter's eager mode); its counts."""
        return self._compressed().counts

    def _compressed(self) -> _Compressed:
        """The exposition as one gzip stream, rendered and compressed once, part by part."""
        with self._lock:
            if not self._metrics:
                exposition = self.render()
                compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                chunks, size = [], 0
                for part in exposition.parts:
                    size += len(part)
                    chunks.append(compressor.compress(part))
                chunks.append(compressor.flush(zlib.Z_SYNC_FLUSH))
                counts = Counts(exposition.series, exposition.skipped, size)
                self._metrics.append(_Compressed(b"".join(chunks), compressor, counts))
            return self._metrics[0]

    def exposition_gzip(self, trailer: bytes) -> list[bytes]:
        """``exposition + trailer`` as one gzip stream, in parts (served back to back).

        Each request copies the kept compressor state, compresses only its small trailer (the
        self-metrics) and finishes the stream.
        """
        compressed = self._compressed()
        with self._lock:  # one copy at a time from the shared compressor state
            finisher = compressed.compressor.copy()  # type: ignore[attr-defined] # not stubbed
        return [compressed.stream, finisher.compress(trailer) + finisher.flush()]

    @property
    def plain_size(self) -> int:
        """Bytes of the plain exposition (known once compressed)."""
        return self._compressed().counts.size

    def exposition(self) -> Iterator[bytes]:
        """The exposition as plain text, inflated about ``PART_BYTES`` at a time as the
        consumer asks (nothing of it is kept)."""
        stream = self._compressed().stream

        def parts() -> Iterator[bytes]:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            view = memoryview(stream)
            for start in range(0, len(view), PART_BYTES // 8):
                data: bytes | memoryview = view[start:start + PART_BYTES // 8]
                while data:  # bounded output per step however well the input compressed
                    part = inflater.decompress(data, PART_BYTES)
                    data = inflater.unconsumed_tail
                    if part:
                        yield part

        return parts()

    def plain_text(self) -> Rendered:
        """The whole plain exposition in memory (tests and benchmarks only)."""
        counts = self._compressed().counts
        return Rendered(list(self.exposition()), counts.series, counts.skipped)

    @property
    def rendered(self) -> Counts | None:
        """The exposition's counts if it was rendered already (self-metrics must not render)."""
        return self._metrics[0].counts if self._metrics else None

    def csv(self) -> Iterator[memoryview]:
        """The rows as the source spelled them (text view), RFC 4180 quoting, written about
        ``PART_BYTES`` of CSV at a time as the consumer asks (slices are views, not copies)."""
        text = self.decoded.text
        step = max(1, PART_BYTES * max(1, text.num_rows) // max(1, text.nbytes))

        def parts() -> Iterator[memoryview]:
            for start in range(0, max(1, text.num_rows), step):
                sink = pa.BufferOutputStream()
                pacsv.write_csv(text.slice(start, step), sink, write_options=pacsv.WriteOptions(
                    quoting_style="needed", include_header=start == 0))
                yield memoryview(sink.getvalue())

        return parts()


def make_snapshot(snapshot_id: str, decoded: Decoded,
                  render: Callable[[Decoded], Exposition]) -> Snapshot:
    """A snapshot holding ``decoded`` once: as its IPC stream, with views for both tables."""
    arrow = arrow_ipc_buffer(decoded.rows)
    rows = pa.ipc.open_stream(arrow).read_all()  # zero-copy: buffers point into ``arrow``
    text = rows if decoded.text is decoded.rows else _share(decoded.text, rows)
    held = replace(decoded, text=text, rows=rows)
    return Snapshot(id=snapshot_id, decoded=held, arrow=arrow, render=lambda: render(held))


def _share(text: pa.Table, rows: pa.Table) -> pa.Table:
    """``text`` with each column that its typed twin can spell replaced by views on the twin.

    A string column the reader kept as is shares the twin's offsets and bytes. Where the text
    held ``""`` and the reader made it NULL, the twin's NULL slot is empty too: the same
    buffers with the text's validity spell the text. Every candidate is checked for equality.
    """
    columns = []
    for name in text.column_names:
        column = text.column(name)
        if name in rows.column_names and rows.column(name).type == column.type == pa.string():
            column = _spelled_by(column, rows.column(name))
        columns.append(column)
    return pa.table(columns, schema=text.schema)


def _spelled_by(column: pa.ChunkedArray, twin: pa.ChunkedArray) -> pa.ChunkedArray:
    if twin.null_count == column.null_count and twin.equals(column):
        return twin
    chunks, start = [], 0
    for chunk in twin.chunks:
        if chunk.offset:
            return column
        valid = pc.is_valid(column.slice(start, len(chunk))).combine_chunks()
        bitmap = None if pc.all(valid).as_py() else valid.buffers()[1]
        chunks.append(pa.Array.from_buffers(pa.string(), len(chunk),
                                            [bitmap, *chunk.buffers()[1:]]))
        start += len(chunk)
    candidate = pa.chunked_array(chunks, pa.string())
    return candidate if candidate.equals(column) else column


def snapshot_id(body_digest: str, settings: str) -> str:
    return hashlib.sha256(f"{body_digest}\n{settings}".encode()).hexdigest()[:32]


def arrow_ipc_buffer(table: pa.Table) -> pa.Buffer:
    """The table as one Arrow IPC stream (schema, batches, end-of-stream marker).

    Sized first (a counting pass that copies nothing), then written into one allocation of
    exactly that size: a growing buffer would reallocate its way up and leave the allocator
    holding the discarded smaller copies, as much again as the stream at the peak.
    """
    counter = pa.MockOutputStream()
    _write_ipc(counter, table)
    buffer = pa.allocate_buffer(counter.size())
    _write_ipc(pa.FixedSizeBufferWriter(buffer), table)
    return buffer


def _write_ipc(sink: pa.NativeFile, table: pa.Table) -> None:
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=65_536)


def arrow_ipc(table: pa.Table) -> bytes:
    """``arrow_ipc_buffer`` as ``bytes`` (a copy: for tests and digests of small tables)."""
    return bytes(arrow_ipc_buffer(table).to_pybytes())


class SnapshotHolder:
    """The current snapshot; replaced in one reference assignment."""

    def __init__(self) -> None:
        self._current: Snapshot | None = None

    @property
    def current(self) -> Snapshot | None:
        return self._current

    def swap(self, snapshot: Snapshot) -> None:
        self._current = snapshot  # a single assignment is atomic for readers
