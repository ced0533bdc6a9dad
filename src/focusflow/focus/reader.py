"""Read a FOCUS report from any location as a stream of typed Arrow record batches.

``FocusReader`` is what every job uses: it opens the location, sniffs the format, resolves the
header into a typed ``Layout`` and converts batch by batch, so memory is bounded by one batch
whatever the file's size. While it reads it meters bytes (progress), counts rows and
fingerprints the content (so a sink can tell an unchanged file). With ``skip_invalid`` bad
rows are set aside as ``Reject``s instead of failing the read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Self

from focusflow.errors import UnreadableInputError
from focusflow.focus.conversion import Reject, convert_batch, row_values, split_valid
from focusflow.focus.formats import (
    DEFAULT_NULL_TOKENS,
    Format,
    RaggedRowError,
    SpooledParquet,
    TextBatches,
    number_ragged_row,
    open_text_batches,
)
from focusflow.focus.locations import HttpOptions, Opened, open_location
from focusflow.focus.parquet_types import ColumnKind
from focusflow.focus.schema import Layout, resolve_header
from focusflow.focus.streams import CORRUPT_GZIP, MeteredStream
from focusflow.lazy import lazy_module

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported at first use: a Parquet load into DuckDB never needs it
    pa = lazy_module("pyarrow")


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Why the caller sets a row aside before conversion: the column and rule it breaks."""

    column: str
    rule: str
    message: str


class FocusReader:
    """A FOCUS report opened for streaming; use as a context manager and iterate ``batches()``."""

    def __init__(
        self,
        uri: str,
        *,
        http: HttpOptions | None = None,
        focus_version: str | None = None,
        skip_invalid: bool = False,
        require_mandatory: bool = True,
        null_values: Sequence[str] = DEFAULT_NULL_TOKENS,
        quarantine: Mapping[int, Quarantined] | None = None,
    ) -> None:
        self.uri = uri
        self._http = http
        self._opened: Opened = open_location(uri, http)
        self.name = self._opened.display
        self.total_bytes = self._opened.size
        self._meter = MeteredStream(self._opened.stream)
        self.skip_invalid = skip_invalid or bool(quarantine)  # rows set aside, none refused
        self.rows_read = 0
        self.rejects: list[Reject] = []
        self._null_values = tuple(null_values)
        self._quarantine = dict(quarantine or {})
        try:
            self._text: TextBatches = self._open_text(skip_invalid)
            self.layout: Layout = resolve_header(
                self._text.header, file=self.name, version=focus_version,
                require_mandatory=require_mandatory,
            )
        except BaseException:
            self.close()
            raise
        self._finished = False

    def _open_text(self, skip_invalid: bool) -> TextBatches:
        try:
            return open_text_batches(
                self._meter,  # type: ignore[arg-type]
                file=self.name, skip_invalid=skip_invalid, parallel=True,
                null_values=self._null_values,
            )
        except RaggedRowError as exc:  # Arrow parses the first block while opening
            if exc.row is not None:
                raise
            raise self._locate_ragged_row() or exc from None
        except CORRUPT_GZIP as exc:
            raise UnreadableInputError(f"corrupt or truncated gzip data: {exc}",
                                       file=self.name) from exc

    @property
    def schema(self) -> pa.Schema:
        return self.layout.schema

    @property
    def format(self) -> Format:
        return self._text.format

    @property
    def bytes_read(self) -> int:
        return self._meter.bytes_read

    @property
    def fingerprint(self) -> str:
        """XXH3-128 of the content (decompressed if it came gzip-compressed, so a ``.csv`` and
        its ``.csv.gz`` are the same content); final once ``batches()`` is exhausted."""
        if not self._finished:
            raise RuntimeError("the fingerprint is known only after the whole file was read")
        content = self._text.content
        if content is None:  # open_text_batches always sets it
            raise RuntimeError("the reader has no content stream to fingerprint")
        return content.fingerprint

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Typed batches in file order; raises ``InputError`` at the first bad row."""
        for text, first_row in self._numbered():
            valid = text
            if self.skip_invalid:
                aside = self._set_aside(text, first_row)
                _, rejects, keep = split_valid(text, self.layout, first_row=first_row)
                found = [*aside.values(), *(r for r in rejects if r.row - first_row not in aside)]
                self.rejects.extend(sorted(found, key=lambda r: r.row))
                if found:
                    valid = text.take(pa.array([i for i in keep if i not in aside], pa.int64()))
            if valid.num_rows:
                yield convert_batch(valid, self.layout, file=self.name, first_row=first_row)

    def _set_aside(self, text: pa.RecordBatch, first_row: int) -> dict[int, Reject]:
        """The rows of ``text`` the caller quarantined (e.g. ``ingest --validate``), by offset,
        each as a ``Reject`` with its cells."""
        aside = {}
        for offset in range(text.num_rows) if self._quarantine else ():
            why = self._quarantine.get(first_row + offset)
            if why is None:
                continue
            values = row_values(text, offset)
            index = next((i for i, c in enumerate(self.layout.columns) if c.name == why.column),
                         None)
            value = None if index is None else values[index]
            found = "a null" if value is None else repr(value)
            aside[offset] = Reject(first_row + offset, why.column, value,
                                   f"{why.message}; found {found}", rule=why.rule, values=values)
        return aside

    def text_batches(self) -> Iterator[pa.RecordBatch]:
        """The rows untyped (every column a string, in layout order), for a sink that types
        them itself; ``batches()`` stays the authority on what a value means."""
        for text, _ in self._numbered():
            yield text

    @property
    def parquet_schema(self) -> pa.Schema | None:
        """A Parquet report's column types as Arrow reads them (header order); else None."""
        spooled = self._text.parquet
        return spooled.schema if spooled is not None else None

    @property
    def parquet_kinds(self) -> list[ColumnKind] | None:
        """A Parquet report's column kinds (what Arrow reads them as, header order, known
        without importing pyarrow where DuckDB can tell); else None."""
        spooled = self._text.parquet
        return spooled.kinds if spooled is not None else None

    def parquet_file(self) -> SpooledParquet:
        """The report as a local Parquet file (a spooled copy), for a sink that reads typed
        Parquet itself. Claiming it counts as reading the whole file (the copy holds every
        byte): the fingerprint is final and ``rows_read`` is set."""
        spooled = self._text.parquet
        if spooled is None:
            raise RuntimeError(f"{self.name} is not a Parquet report")
        self._drain()
        self.rows_read = spooled.num_rows
        self._finished = True
        return spooled

    def _numbered(self) -> Iterator[tuple[pa.RecordBatch, int]]:
        """Text batches with the file row number of their first row; finishes the read."""
        try:
            for text in self._text.batches:
                first_row = self.rows_read + 1
                self.rows_read += text.num_rows
                yield text, first_row
        except UnicodeDecodeError as exc:
            raise UnreadableInputError("not UTF-8 text", file=self.name) from exc
        except CORRUPT_GZIP as exc:
            raise UnreadableInputError(f"corrupt or truncated gzip data: {exc}",
                                       file=self.name) from exc
        except RaggedRowError as exc:
            if exc.row is not None:
                raise
            raise self._locate_ragged_row() or exc from None
        self._collect_invalid_rows()
        self._drain()
        self._finished = True

    def _locate_ragged_row(self) -> RaggedRowError | None:
        """Re-read serially to number a ragged row found by the parallel parser (error path)."""
        opened = open_location(self.uri, self._http)
        try:
            return number_ragged_row(opened.stream, file=self.name)
        finally:
            opened.close()

    def _collect_invalid_rows(self) -> None:
        for number, text in self._text.invalid_rows:
            self.rejects.append(Reject(
                number or 0, "", text,
                f"expected {len(self.layout.columns)} fields; the row as written: {text}",
                rule="row.field-count"))

    def _drain(self) -> None:
        # The fingerprint covers every byte, also trailing ones a parser did not need (and a
        # truncated gzip stream is noticed even when the parser stopped early).
        if self._text.content is not None:
            self._text.content.drain()
        while not self._meter.closed and self._meter.read(1 << 20):
            pass

    def close(self) -> None:
        text = getattr(self, "_text", None)  # unset when opening failed
        if text is not None:
            text.close()
        self._opened.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
