"""Costly per-value facts computed once per distinct value of a window of rows, before the scan.

Model layer. A JSON object check or a date parse costs microseconds per row inside the scan,
yet the values repeat: a resource's tags on every hour of the month, a few hundred charge
periods in a million rows. So the row stream is cut into windows of about ``WINDOW_BYTES``;
in each window every such column is dictionary-encoded (each distinct text once), the facts
are computed by DuckDB over the distinct texts only (one small query per window, the same SQL
the scan would run), and each batch gets them back per row by the dictionary indices. Memory
stays bounded by the window, whatever the file's size; a column whose values never repeat
costs about what it did in the scan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import duckdb
import pyarrow as pa

# The kernels by name, not ``pyarrow.compute``: importing that module generates a Python
# wrapper for every kernel, about 20 ms of CPU per run for the two this module calls (the
# ``Array`` methods ``take`` and ``dictionary_encode`` import it too). ``pyarrow.compute``
# re-exports these two names from here.
from pyarrow._compute import DictionaryEncodeOptions, call_function

from focusflow.focus.validation.sql import q

WINDOW_BYTES = 16 << 20


@dataclass(frozen=True, slots=True)
class WindowedFact:
    """A fact of one text column: ``build`` makes its SQL from a quoted column reference (the
    text, NULL for the empty field) and ``name`` is the column the scan reads it from."""

    source: str
    name: str
    build: Callable[[str], str]


class WindowedFacts:
    """Adds each fact's column to the batches of a stream of text rows."""

    def __init__(self, facts: Sequence[WindowedFact], schema: pa.Schema,
                 database: duckdb.DuckDBPyConnection | None = None) -> None:
        self.facts = list(facts)
        self._positions = [schema.get_field_index(fact.source) for fact in self.facts]
        # One connection for the types and every window: a cursor of the scan's ``database``
        # (another connection to the same in-memory database, usable from the worker thread)
        # costs nothing, a database of its own ~10 ms of CPU.
        self._con = database.cursor() if database is not None else _connect()
        # The facts' types, from their value for the empty field.
        empty = self._evaluate(self._con, [pa.nulls(1, pa.string()) for _ in self.facts])
        self.schema = pa.schema([*schema, *(pa.field(fact.name, values.type)
                                             for fact, values in zip(self.facts, empty,
                                                                     strict=True))])

    def attach(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """``batches`` with the fact columns appended, a window at a time.

        The next window is read and judged on a worker thread while the scan consumes this one
        (Arrow's parser, the dictionary encoding and DuckDB all release the GIL): without it the
        scan's threads would wait at every window.
        """
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="focusflow-window")
        con = self._con
        try:
            pending = pool.submit(self._next_window, con, batches)
            while window := pending.result():
                pending = pool.submit(self._next_window, con, batches)
                yield from window
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # the reader is never left mid-batch
            con.close()

    def _next_window(
        self, con: duckdb.DuckDBPyConnection, batches: Iterator[pa.RecordBatch]
    ) -> list[pa.RecordBatch]:
        """The next batches (about ``WINDOW_BYTES``) with their facts; [] at the end."""
        window: list[pa.RecordBatch] = []
        size = 0
        for batch in batches:
            window.append(batch)
            size += batch.nbytes
            if size >= WINDOW_BYTES:
                break
        return list(self._window(con, window)) if window else []

    def _window(
        self, con: duckdb.DuckDBPyConnection, window: list[pa.RecordBatch]
    ) -> Iterator[pa.RecordBatch]:
        # A column two facts read (e.g. Tags: Key-Value and JSON object) is encoded once.
        by_position = {p: self._encode(window, p) for p in dict.fromkeys(self._positions)}
        encoded = [by_position[p] for p in self._positions]
        values = self._evaluate(con, [dictionary for dictionary, _ in encoded])
        offset = 0
        for batch in window:
            facts = [call_function("take", [v, indices.slice(offset, batch.num_rows)])
                     for v, (_, indices) in zip(values, encoded, strict=True)]
            offset += batch.num_rows
            yield pa.RecordBatch.from_arrays([*batch.columns, *facts], schema=self.schema)

    @staticmethod
    def _encode(window: list[pa.RecordBatch], position: int) -> tuple[pa.Array, pa.Array]:
        """The column's distinct texts (NULL among them) and each row's index into them."""
        column = pa.chunked_array([b.column(position) for b in window], pa.string())
        # Every chunk of the encoded column shares one dictionary.
        chunks = call_function("dictionary_encode", [column],
                               DictionaryEncodeOptions(null_encoding="encode")).chunks
        if not chunks:
            return pa.nulls(0, pa.string()), pa.nulls(0, pa.int32())
        return chunks[0].dictionary, pa.concat_arrays([c.indices for c in chunks])

    def _evaluate(
        self, con: duckdb.DuckDBPyConnection, dictionaries: list[pa.Array]
    ) -> list[pa.Array]:
        """Each fact over its column's distinct texts, in order (one query for all facts)."""
        longest = max(len(d) for d in dictionaries)
        padded = {f"v{i}": pa.concat_arrays([d, pa.nulls(longest - len(d), pa.string())])
                  for i, d in enumerate(dictionaries)}
        con.register("window_values", pa.table(padded))
        texts = ", ".join(f"nullif({q(name)}, '') AS {q(name)}" for name in padded)
        facts = ", ".join(f"{fact.build(q(f'v{i}'))} AS {q(f'f{i}')}"
                          for i, fact in enumerate(self.facts))
        result = con.sql(f"SELECT {facts} FROM (SELECT {texts} FROM window_values)")
        table = result.to_arrow_table()
        return [table.column(i).combine_chunks()[:len(d)] for i, d in enumerate(dictionaries)]


def _connect() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(config={"threads": 1})  # one small query per window
