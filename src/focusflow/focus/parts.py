"""Multi-part reports and location expansion: several files read as one typed batch stream.

Layer: ``focus``. A scheduled cloud export writes one logical report as several part files
(and a manifest saying which). ``PartsLoad`` names the parts of one load and ``MultiPartReader``
reads them back to back as one stream: every part must resolve to the same layout, each part's
raw byte count is checked against the size the manifest promised, and the fingerprint covers
every part (or is the manifest's run identity, known before reading).

``register_expander`` is the hook by which a source (e.g. Azure exports) turns one location the
user typed into the loads it stands for (one per billing period); ``expand_location`` asks each
registered expander in turn and returns ``None`` when the location is a plain file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from focusflow.errors import InputError
from focusflow.focus.conversion import Reject
from focusflow.focus.locations import HttpOptions
from focusflow.focus.reader import FocusReader
from focusflow.focus.schema import Layout
from focusflow.lazy import lazy_module

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported at first use: a Parquet load into DuckDB never needs it
    pa = lazy_module("pyarrow")


class BatchStream(Protocol):
    """What a load reads from: typed batches plus progress and identity facts."""

    name: str
    rejects: list[Reject]

    @property
    def rows_read(self) -> int: ...

    @property
    def schema(self) -> pa.Schema: ...

    @property
    def focus_version(self) -> str: ...

    @property
    def bytes_read(self) -> int: ...

    @property
    def total_bytes(self) -> int | None: ...

    @property
    def fingerprint(self) -> str: ...

    def batches(self) -> Iterator[pa.RecordBatch]: ...

    def close(self) -> None: ...


class PlannedLoad(Protocol):
    """One load a location expanded into: its identity and how to open its batch stream."""

    @property
    def name(self) -> str: ...

    @property
    def source_id(self) -> str: ...

    @property
    def known_fingerprint(self) -> str | None: ...

    def open(
        self, *, http: HttpOptions, focus_version: str | None, skip_invalid: bool,
    ) -> BatchStream: ...


@dataclass(frozen=True)
class Part:
    """One part file and the raw byte count promised for it (None: unchecked)."""

    uri: str
    expected_bytes: int | None = None


@dataclass(frozen=True)
class PartsLoad:
    """Several part files that form one load (e.g. one export run for one billing period)."""

    name: str
    source_id: str
    parts: tuple[Part, ...]
    known_fingerprint: str | None = None

    def open(
        self, *, http: HttpOptions, focus_version: str | None, skip_invalid: bool,
    ) -> MultiPartReader:
        return MultiPartReader(self, http=http, focus_version=focus_version,
                               skip_invalid=skip_invalid)


class MultiPartReader:
    """Reads the parts of a ``PartsLoad`` one after another as a single typed batch stream."""

    def __init__(
        self, load: PartsLoad, *, http: HttpOptions | None = None,
        focus_version: str | None = None, skip_invalid: bool = False,
    ) -> None:
        if not load.parts:
            raise InputError("lists no part files", file=load.name)
        self.load = load
        self.name = load.name
        self._http = http
        self._version = focus_version
        self.skip_invalid = skip_invalid
        self.rejects: list[Reject] = []
        self._done_rows = 0
        self._done_bytes = 0
        self._hash = hashlib.sha256()
        self._current: FocusReader | None = self._open(load.parts[0])
        self.layout: Layout = self._current.layout
        self._finished = False

    def _open(self, part: Part) -> FocusReader:
        return FocusReader(part.uri, http=self._http, focus_version=self._version,
                           skip_invalid=self.skip_invalid)

    @property
    def schema(self) -> pa.Schema:
        return self.layout.schema

    @property
    def focus_version(self) -> str:
        return self.layout.version

    @property
    def rows_read(self) -> int:
        return self._done_rows + (self._current.rows_read if self._current else 0)

    @property
    def bytes_read(self) -> int:
        return self._done_bytes + (self._current.bytes_read if self._current else 0)

    @property
    def total_bytes(self) -> int | None:
        sizes = [p.expected_bytes for p in self.load.parts]
        return None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)

    @property
    def fingerprint(self) -> str:
        """The manifest's identity when known, else SHA-256 over every part's fingerprint."""
        if self.load.known_fingerprint:
            return self.load.known_fingerprint
        if not self._finished:
            raise RuntimeError("the fingerprint is known only after every part was read")
        return self._hash.hexdigest()

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Typed batches of every part in order; raises ``InputError`` on a mismatch."""
        for index, part in enumerate(self.load.parts):
            reader = self._current if index == 0 else self._open(part)
            self._current = reader
            assert reader is not None  # noqa: S101 - set just above
            if index and reader.layout != self.layout:
                reader.close()
                raise InputError(
                    f"its columns differ from the first part's ({self.load.parts[0].uri}); "
                    f"every part of one load must share one header", file=reader.name, row=0)
            yield from reader.batches()
            self.rejects.extend(reader.rejects)
            self._check_size(part, reader)
            self._hash.update(reader.fingerprint.encode())
            self._done_rows += reader.rows_read
            self._done_bytes += reader.bytes_read
            reader.close()
            self._current = None
        self._finished = True

    def _check_size(self, part: Part, reader: FocusReader) -> None:
        if part.expected_bytes is not None and reader.bytes_read != part.expected_bytes:
            raise InputError(
                f"holds {reader.bytes_read} bytes but the manifest lists {part.expected_bytes}",
                file=reader.name)

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


Expander = Callable[[str, HttpOptions], Sequence[PlannedLoad] | None]
_EXPANDERS: list[Expander] = []


def register_expander(expander: Expander) -> None:
    """Let a source turn locations it recognizes into planned loads."""
    if expander not in _EXPANDERS:
        _EXPANDERS.append(expander)


def expand_location(uri: str, http: HttpOptions | None = None) -> Sequence[PlannedLoad] | None:
    """The loads ``uri`` stands for, or ``None`` when no expander claims it (a plain file)."""
    for expander in _EXPANDERS:
        planned = expander(uri, http or HttpOptions())
        if planned is not None:
            return planned
    return None
