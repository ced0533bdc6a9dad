"""Write typed FOCUS rows as a FOCUS file: conformant CSV (optionally gzipped) or typed Parquet.

Model layer; what ``focusflow export`` calls. CSV cells are written the way FOCUS states them
and the reader reads them back to the same values: date-times as ``YYYY-MM-DDTHH:mm:ssZ``
(fractional seconds only where a value has them), decimals in their shortest exact form
(``0``, ``-1.5``; never ``0E-18`` or 18 padded decimals), every non-null text value quoted
(so an empty string, or the text ``NULL``, stays text) and nulls as empty unquoted fields.
Parquet keeps the FOCUS types (decimal128, UTC timestamps, JSON as text).

The file appears whole or not at all: rows go to a temporary file in the target's directory,
which is flushed to disk and renamed over the target only when complete; a failure (full
disk, a kill) leaves any earlier file untouched and at most a hidden ``.part`` file behind.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import uuid
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING

from focusflow.errors import SinkError
from focusflow.lazy import lazy_module

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
else:  # only an export writes: ``ingest`` imports this module for its formats
    pa = lazy_module("pyarrow")
    pc, pq = lazy_module("pyarrow.compute"), lazy_module("pyarrow.parquet")

BATCH_ROWS = 8192


class FileFormat(StrEnum):
    CSV = "csv"
    CSV_GZ = "csv.gz"
    PARQUET = "parquet"

    @classmethod
    def of(cls, path: Path) -> FileFormat:
        """The format a file name asks for: ``.parquet``, ``.csv.gz``/``.gz``, else CSV."""
        name = path.name.lower()
        if name.endswith(".parquet"):
            return cls.PARQUET
        if name.endswith(".gz"):
            return cls.CSV_GZ
        return cls.CSV


def write_focus_file(data: pa.Table, out: Path, file_format: FileFormat | None = None) -> None:
    """Write ``data`` to ``out`` atomically in ``file_format`` (default: from the name)."""
    file_format = file_format or FileFormat.of(out)
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # inside: an unwritable folder is one line
        if file_format is FileFormat.PARQUET:
            pq.write_table(focus_parquet_table(data), partial)
        else:
            with partial.open("wb") as raw:
                if file_format is FileFormat.CSV_GZ:
                    with gzip.GzipFile(fileobj=raw, mode="wb", filename="") as zipped:
                        _write_csv(data, zipped)
                else:
                    _write_csv(data, raw)
                raw.flush()
                os.fsync(raw.fileno())
        _sync(partial)
        partial.replace(out)  # atomic within one directory
        _sync(out.parent)
    except OSError as exc:
        raise SinkError(f"{out}: cannot write the export ({exc.strerror or exc}); "
                        "nothing was written") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _sync(path: Path) -> None:
    """Flush a file's (or directory's) content and entry to disk; best effort on directories."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        handle = os.open(path, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on directories
            os.fsync(handle)
    finally:
        os.close(handle)


def focus_parquet_table(data: pa.Table) -> pa.Table:
    """The table with FOCUS Parquet types: JSON and other extension types as UTF-8 text,
    date-times as UTC microsecond timestamps; decimals and strings as they are."""
    columns, fields = [], []
    for original, field in zip(data.columns, data.schema, strict=True):
        column, kind = original, field.type
        if isinstance(kind, pa.ExtensionType):
            column, kind = column.cast(kind.storage_type), kind.storage_type
        if pa.types.is_timestamp(kind):
            kind = pa.timestamp("us", tz="UTC")
            column = column.cast(kind)
        columns.append(column)
        fields.append(pa.field(field.name, kind, nullable=True, metadata=field.metadata))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _write_csv(data: pa.Table, handle: IO[bytes] | gzip.GzipFile) -> None:
    handle.write((",".join(_header_cell(n) for n in data.column_names) + "\n").encode())
    for lines in _csv_lines(data):
        handle.write(lines)


def _header_cell(name: str) -> str:
    return _quote_text(name) if any(c in name for c in ',"\r\n') else name


def _quote_text(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _csv_lines(data: pa.Table) -> Iterator[memoryview]:
    """The rows as UTF-8 CSV text, one block per batch (memory bounded by the batch).

    Each batch's lines are built column-wise by Arrow and handed over as the string array's
    own data buffer: no Python object per row or cell."""
    for batch in data.to_batches(max_chunksize=BATCH_ROWS):
        if batch.num_rows == 0:
            continue
        cells = [csv_cells(column) for column in batch.columns]
        rows = pc.binary_join_element_wise(*cells, ",") if len(cells) > 1 else cells[0]
        lines = pc.binary_join_element_wise(rows, "", "\n")  # each row + "\n"
        _, offset_buffer, data_buffer = lines.buffers()
        offsets = pa.Array.from_buffers(pa.int32(), len(lines) + 1, [None, offset_buffer],
                                        offset=lines.offset)
        yield memoryview(data_buffer)[offsets[0].as_py():offsets[-1].as_py()]


def csv_cells(column: pa.Array) -> pa.Array:
    """One column as CSV fields: FOCUS text for each value, "" (unquoted) for nulls.

    FOCUS columns repeat (a billing period, a service, a price per hour): a column with few
    distinct values is formatted once per distinct value and expanded by index."""
    if isinstance(column.type, pa.ExtensionType):
        column = column.cast(column.type.storage_type)
    if len(column) >= 64 and not pa.types.is_boolean(column.type):
        encoded = pc.dictionary_encode(column)
        if len(encoded.dictionary) * 4 <= len(column):
            cells = _cells(encoded.dictionary)
            return pc.fill_null(pc.take(cells, encoded.indices), "")
    return pc.fill_null(_cells(column), "")


def _cells(column: pa.Array) -> pa.Array:
    kind = column.type
    if pa.types.is_decimal(kind):
        text = decimal_text(column)
    elif pa.types.is_timestamp(kind):
        text = datetime_text(column)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pc.binary_join_element_wise(
            '"', pc.replace_substring(column.cast(pa.string()), '"', '""'), '"', "")
    elif pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind):
        text = column.cast(pa.string())
    else:  # anything else a sink may hand back: its text, quoted
        text = pc.binary_join_element_wise(
            '"', pc.replace_substring(column.cast(pa.string()), '"', '""'), '"', "")
    return text


def decimal_text(column: pa.Array) -> pa.Array:
    """Decimals in their shortest exact form: ``1.5`` not ``1.500000000000000000``, ``0`` not
    ``0E-18`` (Arrow writes magnitudes below 1E-6 in scientific notation: those are redone)."""
    text = column.cast(pa.string())
    scientific = pc.match_substring(text, "E")
    if pc.any(scientific).as_py():
        text = pa.array([_plain(value) if value is not None and "E" in value else value
                         for value in text.to_pylist()], pa.string())
    # (no "-0": a decimal has no negative zero, and a tiny negative went through _plain)
    return pc.replace_substring_regex(text, r"(\.\d*[1-9])0+$|\.0*$", r"\1")


def _plain(value: str) -> str:
    from decimal import Decimal  # noqa: PLC0415 - only for the rare tiny magnitudes

    number = Decimal(value)
    return "0" if number.is_zero() else format(number, "f")


def datetime_text(column: pa.Array) -> pa.Array:
    """UTC ``YYYY-MM-DDTHH:mm:ssZ``; a value with fractional seconds keeps them (shortest)."""
    kind = column.type
    if kind.tz is None:  # FOCUS date-times are UTC: a zone-less value is UTC
        column = pc.assume_timezone(column, "UTC")
    column = column.cast(pa.timestamp(kind.unit, tz="UTC"))
    whole = pc.floor_temporal(column, unit="second")
    seconds = pc.strftime(whole.cast(pa.timestamp("s", tz="UTC")),
                          format="%Y-%m-%dT%H:%M:%SZ")
    if pc.all(pc.or_kleene(pc.is_null(column), pc.equal(whole, column))).as_py():
        return seconds
    fraction = pc.replace_substring_regex(
        pc.strftime(column, format="%Y-%m-%dT%H:%M:%SZ"), r"(\.\d*[1-9])0+Z$", r"\1Z")
    return pc.if_else(pc.equal(whole, column), seconds, fraction)
