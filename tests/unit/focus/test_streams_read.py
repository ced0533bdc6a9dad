"""The read path Arrow's CSV reader takes: ``read(n)`` hands on the inner stream's own bytes.

``RawIOBase.read`` (the default) reads into a fresh bytearray, then copies it into a new
``bytes``; through ``ContentStream`` over ``PrefixedStream`` over the file that was three
copies and three fresh 1 MiB allocations per CSV block (about 30 ms of CPU on the 205 MB
validate bench file). The content hash, the prefix replay and the gzip error stay as they were.
"""

from __future__ import annotations

import gzip
import io

import pytest
import xxhash

from fixtures.paths import EXAMPLES
from focusflow.errors import UnreadableInputError
from focusflow.focus.formats import open_text_batches
from focusflow.focus.streams import ContentStream, PrefixedStream

SAMPLE = EXAMPLES / "focus_1_2_cost_and_usage_azure.csv"


class Chunks(io.RawIOBase):
    """An inner stream whose ``read`` returns these very bytes objects."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


def test_content_stream_hands_on_the_inner_bytes_and_hashes_them() -> None:
    parts = [b"a,b\n" * 1000, b"1,2\n" * 1000]
    content = ContentStream(Chunks(parts), file="f.csv")
    got = [content.read(1 << 20), content.read(1 << 20)]
    assert got[0] is parts[0] and got[1] is parts[1]  # no copy
    assert content.read(1 << 20) == b""
    assert content.fingerprint == xxhash.xxh3_128(b"".join(parts)).hexdigest()


def test_prefixed_stream_replays_the_prefix_then_hands_on_the_inner_bytes() -> None:
    rest = b"x" * 5000
    stream = PrefixedStream(b"header\n", Chunks([rest]))
    assert stream.read(4) == b"head"
    assert stream.read(100) == b"er\n"
    assert stream.read(1 << 20) is rest
    assert stream.read(1 << 20) == b""


def test_a_damaged_gzip_stream_is_still_one_clear_error_through_read() -> None:
    damaged = gzip.compress(SAMPLE.read_bytes())[:-200]
    content = ContentStream(gzip.GzipFile(fileobj=io.BytesIO(damaged)), file="f.csv.gz")
    with pytest.raises(UnreadableInputError, match="corrupt or truncated gzip data"):
        while content.read(1 << 16):
            pass


def test_the_sample_reads_to_the_same_rows_and_content_hash() -> None:
    raw = SAMPLE.read_bytes()
    with SAMPLE.open("rb", buffering=0) as stream:
        text = open_text_batches(stream, file=SAMPLE.name, parallel=True)
        rows = sum(batch.num_rows for batch in text.batches)
        assert text.content is not None
        fingerprint = text.content.fingerprint
    assert rows == raw.count(b"\n") - 1
    assert fingerprint == xxhash.xxh3_128(raw).hexdigest()
