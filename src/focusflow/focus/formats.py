"""File formats of a FOCUS report: sniffing and reading CSV, gzip, Parquet and JSON as text batches.

Every format is read into record batches whose columns are all strings, in header order; the
typed conversion (``conversion.py``) is one code path for all of them. CSV is parsed by Arrow's
streaming reader, JSON (an array of row objects, or one object per line) by an incremental
decoder, Parquet batch by batch; none of them holds the whole file in memory. A Parquet file is
spooled to a local file first (its footer is at the end); ``TextBatches.parquet`` names that
file and its column types, for a database that reads typed Parquet itself.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from focusflow.errors import InputError, UnreadableInputError
from focusflow.focus.parquet_types import ColumnKind, kind_of_arrow, read_footer
from focusflow.focus.streams import ContentStream, PrefixedStream, read_prefix
from focusflow.lazy import lazy_module

if TYPE_CHECKING:
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
else:  # a Parquet file loaded into DuckDB needs none of them
    pc, pacsv = lazy_module("pyarrow.compute"), lazy_module("pyarrow.csv")
    pq = lazy_module("pyarrow.parquet")

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported at first use: a Parquet load into DuckDB never needs it
    pa = lazy_module("pyarrow")

SNIFF_BYTES = 64 * 1024
# Arrow's streaming CSV reader reads ahead a few dozen blocks; 1 MiB blocks keep that
# read-ahead (and so peak memory) small and flat whatever the file size.
CSV_BLOCK_BYTES = 1 << 20
JSON_BATCH_ROWS = 16_384
PARQUET_BATCH_ROWS = 65_536
_BOM = b"\xef\xbb\xbf"
# Tokens that, written unquoted in a CSV field, mean null (besides the empty field): the
# FinOps Foundation's sample data and SQL-engine exports write NULL. Quoted, they stay text.
DEFAULT_NULL_TOKENS: tuple[str, ...] = ("NULL",)
# The reason columns of an ingest rejects file (``ingest/rejects.py``): a rejects file re-loads
# as the rows it holds, so readers leave these columns out.
REJECT_COLUMNS = ("x_rejected_file", "x_rejected_row", "x_rejected_column", "x_rejected_rule",
                  "x_rejected_message")


class RaggedRowError(UnreadableInputError):
    """A CSV row with the wrong number of fields (``row`` is None when parsed in parallel)."""


class Format(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSON = "json"


@dataclass
class TextBatches:
    """A header and an iterator of all-string batches in that header's order."""

    header: list[str]
    batches: Iterator[pa.RecordBatch]
    format: Format
    invalid_rows: list[tuple[int | None, str]] = field(default_factory=list)
    # The (decompressed) bytes the parser reads, hashed as they pass: the content hash.
    content: ContentStream | None = None
    # A Parquet report: the spooled local copy, for a database that reads it itself.
    parquet: SpooledParquet | None = None
    # Resources to release when the batches are not read to the end (a Parquet spool file).
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in self.closers:
            close()

    @property
    def source_types(self) -> dict[str, pa.DataType] | None:
        """A typed source's column types as Arrow reads them (Parquet), by header name; None
        for text formats."""
        if self.parquet is None:
            return None
        return {f.name: f.type for f in self.parquet.schema}


class SpooledParquet:
    """A Parquet report as a complete local file: its path, its columns' kinds (what Arrow
    reads them as, ``parquet_types``), its row count, and its Arrow schema on demand."""

    def __init__(self, path: str, kinds: list[ColumnKind], num_rows: int,
                 schema: pa.Schema | None = None) -> None:
        self.path = path
        self.kinds = kinds
        self.num_rows = num_rows
        self._schema = schema

    @property
    def schema(self) -> pa.Schema:
        if self._schema is None:  # read from the footer only when asked (imports pyarrow)
            self._schema = pq.read_schema(self.path)
        return self._schema


def sniff(prefix: bytes) -> tuple[bool, Format]:
    """(gzip-compressed?, format) from a file's first bytes."""
    if prefix[:2] == b"\x1f\x8b":
        return True, Format.CSV  # the inner format is sniffed after decompression
    if prefix[:4] == b"PAR1":
        return False, Format.PARQUET
    text = prefix.removeprefix(_BOM).lstrip()
    if text[:1] in (b"[", b"{"):
        return False, Format.JSON
    return False, Format.CSV


def open_text_batches(
    stream: BinaryIO, *, file: str, skip_invalid: bool = False, parallel: bool = False,
    null_values: Sequence[str] = DEFAULT_NULL_TOKENS,
) -> TextBatches:
    """Sniff ``stream`` and read it as text batches (the stream is consumed lazily).

    ``parallel`` lets Arrow parse CSV blocks on several threads; row numbers of ragged rows
    are then unknown (``RaggedRowError.row`` is None) and the caller may re-read serially.
    In CSV an unquoted empty field and an unquoted token of ``null_values`` are nulls; a
    quoted field is always text (JSON and Parquet carry their own nulls).
    """
    prefix = read_prefix(stream, SNIFF_BYTES)
    if not prefix.strip():
        raise UnreadableInputError("the file is empty (no header row)", file=file)
    compressed, fmt = sniff(prefix)
    body: Any = PrefixedStream(prefix, stream)
    if compressed:
        content = ContentStream(
            gzip.GzipFile(fileobj=io.BufferedReader(body, 1 << 20), mode="rb"), file=file)
        try:
            prefix = read_prefix(content, SNIFF_BYTES)
        except OSError as exc:
            raise UnreadableInputError(f"corrupt gzip data: {exc}", file=file) from exc
        if not prefix.strip():
            raise UnreadableInputError("the file is empty (no header row)", file=file)
        _, fmt = sniff(prefix)
        body = PrefixedStream(prefix, content)
    else:
        content = body = ContentStream(body, file=file)
    if fmt is Format.PARQUET:
        text = _parquet(body, file)
    elif fmt is Format.JSON:
        text = _json(body, prefix, file)
    else:
        text = _csv(body, prefix, file, skip_invalid, parallel and not skip_invalid,
                    null_values=["", *null_values])
    text.content = content
    return text


def number_ragged_row(stream: BinaryIO, *, file: str) -> RaggedRowError | None:
    """The ragged row a parallel parse could not number, found by a serial pass over ``stream``
    (the error path only: the parallel parser knows a block was ragged, not which row)."""
    try:
        for _ in open_text_batches(stream, file=file, parallel=False).batches:
            pass
    except RaggedRowError as exc:
        return exc
    return None


def _csv(
    body: io.RawIOBase, prefix: bytes, file: str, skip_invalid: bool, parallel: bool, *,
    null_values: list[str],
) -> TextBatches:
    header_line = prefix.removeprefix(_BOM)
    if b"\x00" in header_line[:4096]:
        raise UnreadableInputError(
            "binary data, expected CSV, gzip-compressed CSV, Parquet or JSON", file=file)
    try:
        text = header_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(header_line) - 4:  # not just a character cut by the prefix boundary
            raise UnreadableInputError(f"not UTF-8 text (byte {exc.start} of the file)",
                                       file=file) from exc
        text = header_line[: exc.start].decode("utf-8")
    if "\n" not in text and len(prefix) >= SNIFF_BYTES:
        raise UnreadableInputError("the header row is longer than 64 KiB; is this a CSV file?",
                                   file=file)
    header = next(csv.reader(io.StringIO(text.splitlines()[0])))
    kept = [name for name in header if name not in REJECT_COLUMNS]
    invalid: list[tuple[int | None, str]] = []
    ragged: list[RaggedRowError] = []

    def on_invalid(row: Any) -> str:
        number = row.number - 1 if row.number is not None else None
        invalid.append((number, row.text))
        if skip_invalid:
            return "skip"
        ragged.append(RaggedRowError(
            f"expected {row.expected_columns} fields, found {row.actual_columns}",
            file=file, row=number,
        ))
        return "error"

    raw = _skip_bom(body) if prefix.startswith(_BOM) else body
    try:
        reader = pacsv.open_csv(
            raw,
            read_options=pacsv.ReadOptions(
                block_size=CSV_BLOCK_BYTES, use_threads=parallel, column_names=header,
                skip_rows=1,
            ),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), include_columns=kept,
                # An unquoted empty field or null token is a null; a quoted "" or "NULL" stays
                # text. Only those: Arrow's default list would also null "NA", "nan", "N/A".
                null_values=null_values, strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise _parse_error(exc, ragged, file) from exc
    return TextBatches(kept, _csv_batches(reader, file, ragged), Format.CSV, invalid)


def _skip_bom(body: io.RawIOBase) -> PrefixedStream:
    body.read(len(_BOM))
    return PrefixedStream(b"", body)


def _csv_batches(
    reader: pacsv.CSVStreamingReader, file: str, ragged: list[RaggedRowError]
) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise UnreadableInputError("not UTF-8 text", file=file) from exc
        except pa.ArrowInvalid as exc:
            raise _parse_error(exc, ragged, file) from exc
        yield batch


def _parse_error(exc: Exception, ragged: list[RaggedRowError], file: str) -> InputError:
    if ragged:  # our handler saw the row: it names the row and the field counts
        return ragged[0]
    text = str(exc).split("\n")[0]
    if "UTF8" in text:
        return UnreadableInputError("not UTF-8 text", file=file)
    return UnreadableInputError(text.removeprefix("CSV parse error: "), file=file)


def _parquet(body: io.RawIOBase, file: str) -> TextBatches:
    # Named: a database can read the spooled copy by path instead of through Arrow batches.
    spool = tempfile.NamedTemporaryFile(prefix="focusflow-", suffix=".parquet")  # noqa: SIM115
    shutil.copyfileobj(body, spool, 1 << 20)
    spool.flush()
    spool.seek(0)
    # The header and kinds from DuckDB's read of the footer (no pyarrow import: a load into
    # DuckDB never needs Arrow), or from Arrow where only Arrow can tell (``parquet_types``).
    footer = read_footer(spool.name)
    if footer is not None:
        header, spooled = footer.names, SpooledParquet(spool.name, footer.kinds,
                                                       footer.num_rows)
        opened: list[pq.ParquetFile] = []
    else:
        try:
            arrow = pq.ParquetFile(spool)
        except (pa.ArrowInvalid, OSError) as exc:
            spool.close()
            raise UnreadableInputError(f"not a readable Parquet file: {exc}",
                                       file=file) from exc
        header = arrow.schema_arrow.names
        spooled = SpooledParquet(spool.name, [kind_of_arrow(f.type) for f in arrow.schema_arrow],
                                 arrow.metadata.num_rows, arrow.schema_arrow)
        opened = [arrow]

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            parquet = opened[0] if opened else _open_parquet(spool, file)
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                yield _as_text(batch)
        finally:
            spool.close()

    return TextBatches(header, batches(), Format.PARQUET, parquet=spooled, closers=[spool.close])


def _open_parquet(spool: IO[bytes], file: str) -> pq.ParquetFile:
    spool.seek(0)
    try:
        return pq.ParquetFile(spool)
    except (pa.ArrowInvalid, OSError) as exc:  # DuckDB read it: not expected
        raise UnreadableInputError(f"not a readable Parquet file: {exc}", file=file) from exc


def _as_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A typed batch as the text FOCUS would write for its values, losing nothing: UTC
    date-times as ``YYYY-MM-DDTHH:mm:ssZ`` (a fraction of a second only where there is one),
    decimals exactly, doubles in their shortest round-trip form (``1e20``, not ``1e+20``)."""
    arrays = []
    for array in batch.columns:
        if pa.types.is_string(array.type):
            arrays.append(array)
        elif pa.types.is_timestamp(array.type):
            arrays.append(_timestamp_text(array))
        elif pa.types.is_floating(array.type):
            arrays.append(pc.replace_substring(array.cast(pa.string()), "e+", "e"))
        elif pa.types.is_struct(array.type) or pa.types.is_map(array.type):
            arrays.append(pa.array([None if v is None else json.dumps(_plain(v))
                                    for v in array.to_pylist()], pa.string()))
        else:
            arrays.append(array.cast(pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _plain(value: Any) -> Any:
    # Arrow maps come back as lists of (key, value) pairs.
    if isinstance(value, list) and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return dict(value)
    return value


def _timestamp_text(array: pa.Array) -> pa.Array:
    """ISO 8601 in UTC with ``Z`` for a zoned timestamp (an instant); without it for a naive
    one (its zone is unknown: a load reads it as UTC, ``validate`` says it is not UTC)."""
    zoned = array.type.tz is not None
    unit = array.type.unit
    if zoned:
        array = array.cast(pa.timestamp(unit, tz="UTC"))
    layout = "%Y-%m-%dT%H:%M:%S" + ("Z" if zoned else "")
    seconds = pa.timestamp("s", tz="UTC" if zoned else None)
    whole = array.cast(seconds, safe=False)
    text = pc.strftime(whole, format=layout)
    fraction = pc.not_equal(whole.cast(array.type), array)
    if unit == "s" or not pc.any(fraction).as_py():
        return text
    return pc.if_else(fraction, pc.strftime(array, format=layout), text)


def _json(body: io.RawIOBase, prefix: bytes, file: str) -> TextBatches:
    text = io.TextIOWrapper(io.BufferedReader(body), encoding="utf-8-sig")
    rows = _json_rows(text, file)
    # Rows may omit null fields: the header is the union of the first batch's keys, in order.
    first = list(itertools.islice(rows, JSON_BATCH_ROWS))
    if not first:
        raise InputError("the JSON array holds no rows", file=file)
    header = list(dict.fromkeys(key for row in first for key in row))
    known = set(header)

    def batches() -> Iterator[pa.RecordBatch]:
        yield _rows_to_batch(first, header)
        pending = []
        for number, row in enumerate(rows, start=len(first) + 1):
            extra = row.keys() - known
            if extra:
                raise InputError(
                    f"has field(s) {', '.join(sorted(extra))} that none of the first "
                    f"{len(first):,} rows has", file=file, row=number,
                )
            pending.append(row)
            if len(pending) >= JSON_BATCH_ROWS:
                yield _rows_to_batch(pending, header)
                pending = []
        if pending:
            yield _rows_to_batch(pending, header)

    return TextBatches(header, batches(), Format.JSON)


def _rows_to_batch(rows: list[dict[str, str | None]], header: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([row.get(name) for row in rows], pa.string()) for name in header],
        names=header,
    )


def _json_rows(text: IO[str], file: str) -> Iterator[dict[str, str | None]]:
    """Rows of a JSON array of objects (or newline-delimited objects), decoded incrementally.

    A decode error mid-buffer usually means the object continues in the next chunk, so the
    decoder only reports an error once the file has no more text to add.
    """
    decoder = json.JSONDecoder(parse_float=str, parse_int=str)
    buffer, at_eof, number = "", False, 0
    in_array: bool | None = None
    while True:
        buffer = buffer.lstrip(" \t\r\n,") if in_array is not None else buffer.lstrip()
        if in_array is None and buffer:
            in_array = buffer.startswith("[")
            buffer = buffer[1:] if in_array else buffer
            continue
        if in_array and buffer.startswith("]"):
            return
        error: json.JSONDecodeError | None = None
        if buffer:
            try:
                value, end = decoder.raw_decode(buffer)
            except json.JSONDecodeError as exc:
                error = exc
            else:
                number += 1
                if not isinstance(value, dict):
                    raise InputError(
                        f"expected a JSON object per row, found {type(value).__name__}",
                        file=file, row=number,
                    )
                buffer = buffer[end:]
                yield {key: _json_text(item) for key, item in value.items()}
                continue
        if at_eof:
            if error is not None:
                raise UnreadableInputError(f"invalid JSON: {error.msg}", file=file, row=number + 1)
            if in_array:
                raise UnreadableInputError("invalid JSON: the array is not closed", file=file)
            return
        chunk = text.read(1 << 20)
        at_eof = not chunk
        buffer += chunk


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
