"""A snapshot holds its rows once and derives what it serves, byte for byte as before.

The IPC stream is the canonical copy; typed rows are views on it; text columns share the typed
twin's buffers (also where a quoted ``""`` became NULL); the exposition is kept as gzip only.
"""

from __future__ import annotations

import gc
import gzip
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from test_decode_render import COST

from fixtures.paths import EXAMPLES
from focusflow.exporter import ExporterConfig
from focusflow.exporter import snapshot as snapshot_module
from focusflow.exporter.decode import Decoded, decode
from focusflow.exporter.exposition import render, render_parts
from focusflow.exporter.snapshot import arrow_ipc, make_snapshot
from focusflow.sources import Fetched

AZURE = EXAMPLES / "focus_1_2_cost_and_usage_azure.csv"
# Every field quoted, as many exporters write: quoted "" cells stay "" in the text view.
QUOTED = (b'"BilledCost","ServiceName","SkuId","ChargeClass","Tags"\n'
          b'"1.5","EC2","","","{""a"": ""b""}"\n'
          b'"2","S3","sku-1",,""\n')


def decoded_of(body: bytes, config: ExporterConfig = COST) -> Decoded:
    return decode(Fetched(name="r", body=body, content_type="text/csv"), config)


def csv_of(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue()


def buffer_addresses(table: pa.Table) -> set[int]:
    return {b.address for column in table.columns for chunk in column.chunks
            for b in chunk.buffers() if b is not None and b.size}


def test_rows_are_views_on_the_ipc_stream_and_text_shares_them() -> None:
    for body in (QUOTED, AZURE.read_bytes()):
        original = decoded_of(body)
        snapshot = make_snapshot("s", original, lambda d: render_parts(d, COST))
        held = snapshot.decoded
        assert held.rows.equals(original.rows) and held.text.equals(original.text)
        assert bytes(snapshot.arrow) == arrow_ipc(original.rows)
        start, end = snapshot.arrow.address, snapshot.arrow.address + snapshot.arrow.size
        assert all(start <= a < end for a in buffer_addresses(held.rows))
        # Every text column that stays a string in the typed rows reads the stream's bytes.
        for name in held.text.column_names:
            if held.rows.schema.field(name).type == pa.string():
                data = {chunk.buffers()[2].address for chunk in held.text.column(name).chunks
                        if chunk.buffers()[2] is not None and chunk.buffers()[2].size}
                assert all(start <= a < end for a in data), name
        assert csv_of(held.text) == csv_of(original.text)  # quoted "" and NULL kept apart
        assert b"".join(snapshot.csv()) == csv_of(original.text)


def test_exposition_is_kept_compressed_and_served_unchanged() -> None:
    original = decoded_of(AZURE.read_bytes())
    expected = render(original, COST)
    snapshot = make_snapshot("s", original, lambda d: render_parts(d, COST))
    assert snapshot.rendered is None  # nothing rendered before it is asked for
    plain = snapshot.plain_text()
    assert plain.text == expected.text
    assert (plain.series, plain.skipped) == (expected.series, expected.skipped) == (2000, 0)
    trailer = b"# HELP x y\n# TYPE x gauge\nx 1\n"
    for _ in range(2):  # the kept compressor state serves request after request
        assert gzip.decompress(b"".join(snapshot.exposition_gzip(trailer))) == \
            expected.text + trailer
    kept = len(snapshot._metrics[0].stream)
    assert kept * 5 < expected.size  # the kept form is a fraction of the text
    assert snapshot.rendered is not None and snapshot.rendered.series == 2000


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.csv")), ids=lambda p: p.name)
def test_a_served_snapshot_retains_at_most_twice_the_file(path: Path) -> None:
    """Arrow memory held after the exposition was rendered and gzipped, plus the gzip stream."""
    body = path.read_bytes()
    gc.collect()
    base = pa.total_allocated_bytes()
    decoded = decoded_of(body)
    snapshot = make_snapshot("s", decoded, lambda d: render_parts(d, COST))
    del decoded
    assert snapshot.compress_metrics().series == 2000
    assert b"".join(snapshot.csv())  # served per request, not kept
    gc.collect()
    kept = sum(len(part) for part in snapshot.exposition_gzip(b""))
    held = pa.total_allocated_bytes() - base + kept
    assert held <= 2 * len(body), f"{held / len(body):.2f}x the file"


def test_served_forms_stream_in_bounded_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain /metrics and CSV /rows are made part by part as read, never whole (issue 15)."""
    monkeypatch.setattr(snapshot_module, "PART_BYTES", 64 << 10)
    original = decoded_of(AZURE.read_bytes())
    expected = render(original, COST).text
    snapshot = make_snapshot("s", original, lambda d: render_parts(d, COST))
    snapshot.compress_metrics()
    plain = list(snapshot.exposition())
    assert b"".join(plain) == expected and snapshot.plain_size == len(expected)
    assert len(plain) > 5 and max(len(part) for part in plain) <= 64 << 10
    csv_parts = [bytes(part) for part in snapshot.csv()]
    assert b"".join(csv_parts) == csv_of(original.text)
    assert len(csv_parts) > 5 and max(len(part) for part in csv_parts) <= 2 * (64 << 10)
    assert csv_parts[1].count(b"\n") > 1 and not csv_parts[1].startswith(csv_parts[0][:20])
