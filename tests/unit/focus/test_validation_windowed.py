"""Windowed facts: computed once per distinct value of a window, equal to the per-row SQL."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from focusflow.focus.validation import windowed
from focusflow.focus.validation.sql import WINDOWED_FACTS, q
from focusflow.focus.validation.windowed import WindowedFact, WindowedFacts

TEXTS = ['{"a": 1}', '{"a": 1, "a": 2}', '{"a": {"b": 1}}', "[1]", "{bad", "", None, " ",
         "2024-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-01-01T24:00:00Z", "null", "{}"]


def per_row(kind: str, texts: list[str | None]) -> list[object]:
    """The fact evaluated row by row, as the scan did before windows."""
    con = duckdb.connect()
    con.register("t", pa.table({"v": pa.array(texts, pa.string())}))
    build = WINDOWED_FACTS[kind]
    rows = con.execute(f"SELECT {build(q('v'))} FROM (SELECT nullif(v, '') AS v FROM t)")
    return [row[0] for row in rows.fetchall()]


KINDS = ("kv", "obj", "dt")
# A text column of the scan's stream and its row numbers.
SCHEMA = pa.schema([pa.field("Tags", pa.string()), pa.field("__row", pa.int64())])


def tags_batches(texts: list[str | None], size: int) -> list[pa.RecordBatch]:
    """``texts`` as ``Tags`` in batches of ``size`` rows, numbered from 0."""
    return [pa.RecordBatch.from_arrays([pa.array(texts[i:i + size], pa.string()),
                                        pa.array(range(i, i + size), pa.int64())],
                                       schema=SCHEMA)
            for i in range(0, len(texts), size)]


def tags_facts() -> list[WindowedFact]:
    """Every fact of ``KINDS`` over ``Tags``."""
    return [WindowedFact("Tags", f"__Tags#{kind}", WINDOWED_FACTS[kind]) for kind in KINDS]


@pytest.mark.parametrize("window_bytes", [1, 200, 1 << 20])
def test_facts_per_window_equal_facts_per_row(
    monkeypatch: pytest.MonkeyPatch, window_bytes: int
) -> None:
    # Batches of 5 rows; windows of one batch, of a few, or of all: repeated values, NULLs and
    # empty fields on both sides of every cut.
    monkeypatch.setattr(windowed, "WINDOW_BYTES", window_bytes)
    texts = [TEXTS[(i * 7) % len(TEXTS)] for i in range(60)]
    batches = tags_batches(texts, 5)
    attached = WindowedFacts(tags_facts(), SCHEMA)
    out = pa.Table.from_batches(list(attached.attach(iter(batches))), schema=attached.schema)
    assert out.column("__row").to_pylist() == list(range(60))
    assert out.column("Tags").to_pylist() == texts
    for kind in KINDS:
        assert out.column(f"__Tags#{kind}").to_pylist() == per_row(kind, texts), kind


def test_facts_judged_in_the_scans_database_while_the_scan_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As the scan runs it: the windows' queries go to a cursor of the scan's own database (no
    # second database, ~10 ms each) from the worker thread, while the scan query on that
    # database pulls the stream.
    monkeypatch.setattr(windowed, "WINDOW_BYTES", 200)

    def no_database_of_its_own() -> duckdb.DuckDBPyConnection:
        raise AssertionError("the windowed facts opened a database of their own")

    monkeypatch.setattr(windowed, "_connect", no_database_of_its_own)
    texts = [TEXTS[(i * 5) % len(TEXTS)] for i in range(80)]
    batches = tags_batches(texts, 4)
    database = duckdb.connect(config={"threads": 2})
    attached = WindowedFacts(tags_facts(), SCHEMA, database)
    database.register("scanned", pa.RecordBatchReader.from_batches(
        attached.schema, attached.attach(iter(batches))))
    facts = ", ".join(q(f"__Tags#{kind}") for kind in KINDS)
    rows = database.execute(f"SELECT __row, {facts} FROM scanned ORDER BY __row").fetchall()
    assert [row[0] for row in rows] == list(range(80))
    for n, kind in enumerate(KINDS, start=1):
        assert [row[n] for row in rows] == per_row(kind, texts), kind


def test_no_rows_no_windows() -> None:
    schema = pa.schema([pa.field("Tags", pa.string())])
    attached = WindowedFacts([WindowedFact("Tags", "__Tags#kv", WINDOWED_FACTS["kv"])], schema)
    assert list(attached.attach(iter([]))) == []
    assert attached.schema.names == ["Tags", "__Tags#kv"]
    assert attached.schema.field("__Tags#kv").type == pa.bool_()
