"""Ingest one FOCUS report into a sink: reader -> typed batches -> ``Sink.load``.

Orchestration only: the reader streams and types the rows, the sink owns the transaction. The
source identity defaults to the report's location (credential-free), so re-ingesting the same
location replaces its earlier rows for the same billing periods.

A location a source recognizes (``focus.parts.register_expander``: e.g. an Azure export folder
with manifests) expands into planned loads, each read as one stream and loaded as ONE request
(one transaction per source and billing period); ``ingest_location`` handles both cases.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from focusflow import interrupts
from focusflow.errors import InputError, SinkError
from focusflow.focus import FocusReader, HttpOptions, Quarantined, Reject
from focusflow.focus.catalogue import detect_dataset
from focusflow.focus.formats import DEFAULT_NULL_TOKENS
from focusflow.focus.parts import BatchStream, PlannedLoad, expand_location
from focusflow.ingest.rejects import RejectedRows, RejectLimit, RejectLimitError, write_rejects_csv
from focusflow.lazy import lazy_module
from focusflow.sinks import (
    LoadRequest,
    LoadResult,
    ParquetRows,
    ParquetRowsRefused,
    Sink,
    TextRows,
    TextRowsRefused,
    quote,
)
from focusflow.sinks.base import LOAD_COLUMN, query_rows
from focusflow.sinks.datasets import check_dataset
from focusflow.sinks.identifiers import LOADS_TABLE

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported at first use: a Parquet load into DuckDB never needs it
    pa = lazy_module("pyarrow")

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None, int], None]
"""Called as (bytes read, total bytes or None, rows read) while a file streams."""


@dataclass(frozen=True)
class IngestOptions:
    table: str = "focus"
    source_id: str | None = None
    focus_version: str | None = None
    skip_invalid: bool = False
    http: HttpOptions = field(default_factory=HttpOptions)
    null_values: tuple[str, ...] = DEFAULT_NULL_TOKENS
    # Rows to set aside before conversion (``ingest --validate --skip-invalid``), by row number.
    quarantine: Mapping[int, Quarantined] | None = None
    max_rejected: RejectLimit | None = None
    # Load a file whose content another source of the table already loaded (double-counting).
    allow_same_content: bool = False


@dataclass
class IngestOutcome:
    uri: str
    name: str
    source_id: str
    result: LoadResult
    bytes_read: int
    rejects: list[Reject]
    focus_version: str
    header: tuple[str, ...] = ()
    rows_read: int = 0  # data rows read, set-aside rows included (ragged rows are not)

    @property
    def nothing_loaded(self) -> bool:
        """Every row was set aside (also when the file is unchanged since such a load)."""
        return bool(self.rejects) and len(self.rejects) >= self.rows_read


def ingest(
    uri: str, sink: Sink, options: IngestOptions, progress: Progress | None = None
) -> IngestOutcome:
    """Load ``uri`` into ``sink``; raises ``InputError``/``SourceError``/``SinkError``.

    The sink is offered the untyped rows too (a database can type them faster on its own
    threads), and a Parquet report as its file; if it refuses a value in the file, the text
    rows are offered alone; if it refuses a value there, the file is read again through the
    typed path, which loads what FOCUS allows and names the row and column of anything it
    does not.
    """
    _load_source_plugins(uri)
    # Rows set aside (--skip-invalid, a quarantine) are only known to the typed path.
    offer_text = not (options.skip_invalid or options.quarantine)
    try:
        try:
            return _ingest_file(uri, sink, options, progress, offer_text=offer_text)
        except ParquetRowsRefused:
            interrupts.check()  # a refusal caused by a stop signal is the stop, not bad rows
            log.debug("%s: DuckDB's typing of the Parquet file refused a value; nothing was "
                      "committed, offering the rows as text", uri)
            return _ingest_file(uri, sink, options, progress, offer_text=offer_text,
                                offer_parquet=False)
    except TextRowsRefused:
        interrupts.check()  # a refusal caused by a stop signal is the stop, not bad rows
        log.debug("%s: the database's fast typing refused a value; nothing was committed, "
                 "reading the file again through the typed path", uri)
        return _ingest_file(uri, sink, options, progress, offer_text=False)


def _ingest_file(
    uri: str, sink: Sink, options: IngestOptions, progress: Progress | None, *,
    offer_text: bool, offer_parquet: bool = True,
) -> IngestOutcome:
    with FocusReader(
        uri, http=options.http, focus_version=options.focus_version,
        skip_invalid=options.skip_invalid, null_values=options.null_values,
        quarantine=options.quarantine,
    ) as reader:
        source_id = options.source_id or _default_source_id(reader.name)
        text = (TextRows(reader.layout, _metered(reader.text_batches(), reader, progress))
                if offer_text else None)
        seen = {} if options.allow_same_content else _contents_of_others(
            sink, options.table, source_id)
        parquet = _parquet_rows(reader) if offer_text and offer_parquet else None
        return _load(uri, reader, sink, options, version=reader.layout.version,
                     source_id=source_id, known_fingerprint=None, progress=progress, text=text,
                     fingerprint=_content_check(reader, seen, options.table), parquet=parquet)


def _parquet_rows(reader: FocusReader) -> ParquetRows | None:
    """A Parquet report offered as its typed file (a sink may read and type it itself)."""
    kinds = reader.parquet_kinds
    if kinds is None:
        return None
    return ParquetRows(reader.layout, kinds, lambda: reader.parquet_file().path)


def ingest_location(
    uri: str, sink: Sink, options: IngestOptions, progress: Progress | None = None
) -> list[IngestOutcome]:
    """Load what ``uri`` stands for: the loads a source expands it into (e.g. one per billing
    period of a manifest-driven export), or the single file ``ingest`` loads."""
    _load_source_plugins(uri)
    planned = expand_location(uri, options.http)
    if planned is None:
        return [ingest(uri, sink, options, progress)]
    return [ingest_planned(load, sink, options, progress) for load in planned]


def ingest_planned(
    load: PlannedLoad, sink: Sink, options: IngestOptions, progress: Progress | None = None
) -> IngestOutcome:
    """One planned load (several parts, or a source's rows) as ONE ``LoadRequest``."""
    source_id = options.source_id or load.source_id
    stream = load.open(http=options.http, focus_version=options.focus_version,
                       skip_invalid=options.skip_invalid)
    try:
        return _load(load.name, stream, sink, options, version=stream.focus_version,
                     source_id=source_id, known_fingerprint=load.known_fingerprint,
                     progress=progress)
    finally:
        stream.close()


def _load(
    uri: str, reader: FocusReader | BatchStream, sink: Sink, options: IngestOptions, *,
    version: str, source_id: str, known_fingerprint: str | None, progress: Progress | None,
    text: TextRows | None = None, fingerprint: Callable[[], str] | None = None,
    parquet: ParquetRows | None = None,
) -> IngestOutcome:
    names = reader.layout.names if isinstance(reader, FocusReader) else reader.schema.names
    check_dataset(sink, options.table, detect_dataset(names), file=reader.name)
    header = (tuple(c.source_name for c in reader.layout.columns)
              if isinstance(reader, FocusReader) else tuple(reader.schema.names))
    batches = _metered(reader.batches(), reader, progress)
    if options.max_rejected is not None:
        batches = _limited(batches, reader, options.max_rejected, header)
    result = sink.load(LoadRequest(
        table=options.table, source_id=source_id, batches=batches,
        # Built when a sink asks: Arrow's schema imports pyarrow, which a Parquet load into
        # DuckDB does not need.
        schema=lambda: reader.schema,
        fingerprint=fingerprint or (lambda: reader.fingerprint),
        known_fingerprint=known_fingerprint, text=text, parquet=parquet,
    ))
    if progress:
        progress(reader.bytes_read, reader.total_bytes, reader.rows_read)
    return IngestOutcome(
        uri, reader.name, source_id, result, reader.bytes_read, reader.rejects, version, header,
        reader.rows_read,
    )


def _contents_of_others(sink: Sink, table: str, source_id: str) -> dict[str, str]:
    """Content hash -> source, for the other sources' loads into ``table`` whose rows are
    still there (a load whose rows a later load of its source replaced no longer counts).

    Read before the load starts (a sink's reads may end its transaction).
    """
    try:
        _, loads = query_rows(sink, LOADS_TABLE, "SELECT source_id, fingerprint, load_id "
                              "FROM {table} WHERE table_name = ? AND fingerprint IS NOT NULL "
                              "AND source_id <> ?", [table, source_id])
        if not loads:
            return {}
        _, live = query_rows(sink, table, f"SELECT DISTINCT {quote(LOAD_COLUMN)} FROM {{table}}")
    except SinkError:  # nothing was ever loaded: no registry or no table yet
        return {}
    present = {row[0] for row in live}
    return {fingerprint: source for source, fingerprint, load_id in loads
            if load_id in present}


def _content_check(reader: FocusReader, seen: dict[str, str], table: str) -> Callable[[], str]:
    """The reader's content hash, refusing the load (inside the sink's transaction: nothing is
    committed) when another source already loaded the same content."""
    def fingerprint() -> str:
        value = reader.fingerprint
        earlier = seen.get(value)
        if earlier is not None:
            raise SameContentError(
                f"holds the same content as {earlier}, already loaded into {table} (same "
                "content hash, compressed or not); not loaded again, so its rows are not "
                "counted twice (--allow-same-content loads it anyway)", file=reader.name)
        return value

    return fingerprint


class SameContentError(InputError):
    """The file's content was already loaded into the table under another source."""


def _limited(
    batches: Iterator[pa.RecordBatch], reader: FocusReader | BatchStream, limit: RejectLimit,
    header: tuple[str, ...],
) -> Iterator[pa.RecordBatch]:
    """``batches``, failing the load (inside the sink's transaction: nothing is committed) once
    the rows set aside pass ``limit``: a count as soon as it is passed, a share at the end."""
    for batch in batches:
        if limit.count is not None and len(reader.rejects) > limit.count:
            raise RejectLimitError(limit, reader, header)
        yield batch
    if limit.exceeded(len(reader.rejects), reader.rows_read):
        raise RejectLimitError(limit, reader, header)


# Sources that teach the focus layer locations (schemes, expanders) when imported.
_SOURCE_PLUGINS = ("focusflow.sources.azure",)  # az://, azcost://, Blob https URLs


def _load_source_plugins(uri: str) -> None:
    """Import the sources that may claim ``uri``; local paths and s3:// need none, and a plain
    file load starts a quarter second faster without them."""
    scheme = urlsplit(uri).scheme.lower()
    if len(scheme) > 1 and scheme not in ("file", "s3"):  # one letter: a Windows drive
        for module in _SOURCE_PLUGINS:
            importlib.import_module(module)


def _metered(
    batches: Iterator[pa.RecordBatch], reader: FocusReader | BatchStream,
    progress: Progress | None,
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if progress:
            progress(reader.bytes_read, reader.total_bytes, reader.rows_read)
        yield batch


def _default_source_id(name: str) -> str:
    path = Path(name)
    return str(path.resolve()) if "://" not in name and path.exists() else name


def write_rejects(path: Path, outcomes: list[IngestOutcome]) -> int:
    """Write every quarantined row to ``path``; see ``rejects.write_rejects_csv``."""
    return write_rejects_csv(path, [RejectedRows(o.name, o.header, o.rejects)
                                    for o in outcomes])
