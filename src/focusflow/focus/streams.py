"""Small binary-stream adapters the readers compose: metering, prefix replay, iterators.

``MeteredStream`` counts the raw bytes that pass (progress bars); ``ContentStream`` hashes
the content as the parsers read it (the unchanged-file and same-content checks);
``PrefixedStream`` replays bytes already peeked at (to sniff the format and header) in front
of the rest; ``IteratorStream`` turns an iterator of chunks (an
HTTP body) into a file object.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import xxhash

from focusflow.errors import UnreadableInputError

# What the gzip module raises on a truncated or damaged stream (EOFError would otherwise
# reach click, which prints a bare "Aborted!").
CORRUPT_GZIP = (EOFError, zlib.error, gzip.BadGzipFile)


class MeteredStream(io.RawIOBase):
    """Counts the raw bytes read (progress bars); the content hash is ``ContentStream``'s."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.bytes_read += size
        return size

    def close(self) -> None:
        self._inner.close()
        super().close()


class ContentStream(io.RawIOBase):
    """The file's content as the parsers read it: decompressed when it was gzip-compressed.

    Hashes what passes (XXH3-128), so the same rows give the same content hash whether they
    came as ``.csv`` or ``.csv.gz``; a damaged gzip stream raises ``UnreadableInputError``
    naming ``file`` (the parsers above it would turn a bare ``EOFError`` into anything).
    """

    def __init__(self, inner: BinaryIO | io.RawIOBase | io.BufferedIOBase, *, file: str) -> None:
        self._inner = inner
        self._file = file
        self._hash = xxhash.xxh3_128()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._next(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes as one ``bytes`` object (Arrow's CSV reader reads this way):
        the inner stream's own, with no bytearray round trip (``RawIOBase.read``'s two copies
        and fresh pages for every block)."""
        if size is None or size < 0:
            return super().read(-1)  # readall: through readinto, hashed there
        if self.closed:
            raise ValueError("read of closed file")
        return self._next(size)

    def _next(self, size: int) -> bytes:
        """Up to ``size`` bytes of the inner stream, hashed; a damaged gzip stream named."""
        try:
            data = self._inner.read(size) or b""
        except CORRUPT_GZIP as exc:
            raise UnreadableInputError(f"corrupt or truncated gzip data: {exc}",
                                       file=self._file) from exc
        self._hash.update(data)
        return data

    def drain(self) -> None:
        """Read (and hash) what the parser left unread, to the end."""
        while not self.closed and self.read(1 << 20):
            pass

    @property
    def fingerprint(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        self._inner.close()
        super().close()


class PrefixedStream(io.RawIOBase):
    """Serves ``prefix`` first, then the rest of ``inner``."""

    def __init__(self, prefix: bytes, inner: BinaryIO | io.RawIOBase) -> None:
        self._prefix = memoryview(prefix)
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        return self._inner.readinto(buffer) or 0  # type: ignore[union-attr]

    def read(self, size: int | None = -1) -> bytes:
        """Once the prefix is served, the inner stream's own ``read`` (one ``bytes`` object
        filled by the system call, no bytearray round trip)."""
        if self._prefix or size is None or size < 0:
            return super().read(-1 if size is None else size) or b""
        if self.closed:
            raise ValueError("read of closed file")
        return self._inner.read(size) or b""

    def close(self) -> None:
        self._inner.close()
        super().close()


class IteratorStream(io.RawIOBase):
    """A read-only file over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def read_prefix(stream: io.RawIOBase | BinaryIO, size: int) -> bytes:
    """Read up to ``size`` bytes, looping over short reads."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)
