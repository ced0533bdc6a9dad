"""The rejects file of ``ingest --skip-invalid``, and the limit on how many rows it may take.

Ingest layer. A rejects file is re-loadable: the rows set aside, in their original text and
under the source's own column names, followed by five ``x_rejected_*`` columns saying where
each row came from and why it was refused (file, row, column, rule, message). A user fixes the
cells and ingests the file; the reader leaves the ``x_rejected_*`` columns out
(``focus.formats.REJECT_COLUMNS``), so only the fixed rows load. Cells are written so that they
read back exactly: text always quoted (a quoted ``"NULL"`` or ``""`` stays text), a null as an
empty unquoted field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from focusflow.errors import ConfigError, InputError
from focusflow.focus import Reject
from focusflow.focus.formats import REJECT_COLUMNS


@dataclass(frozen=True)
class RejectedRows:
    """The rows one source set aside, with that source's header."""

    file: str
    header: tuple[str, ...]
    rejects: Sequence[Reject]


@dataclass(frozen=True)
class RejectLimit:
    """``--max-rejected``: at most ``count`` rows, or at most ``percent`` % of a file's rows."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> RejectLimit:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%?)\s*", text)
        if match is None or (not match.group(2) and "." in match.group(1)):
            raise ConfigError(f"--max-rejected {text!r}: expected a row count such as 100 or a "
                              "share of the file's rows such as 5%")
        if match.group(2):
            percent = float(match.group(1))
            if percent > 100:
                raise ConfigError(f"--max-rejected {text!r}: a share is at most 100%")
            return cls(percent=percent)
        return cls(count=int(match.group(1)))

    def exceeded(self, rejected: int, rows: int) -> bool:
        if self.count is not None:
            return rejected > self.count
        assert self.percent is not None  # noqa: S101 - one of the two is set by parse
        return rows > 0 and rejected * 100 > self.percent * rows

    def __str__(self) -> str:
        return f"{self.count}" if self.count is not None else f"{self.percent:g}%"


class _Reading(Protocol):
    name: str
    rejects: list[Reject]

    @property
    def rows_read(self) -> int: ...


class RejectLimitError(InputError):
    """More rows were set aside than ``--max-rejected`` allows; the load committed nothing."""

    def __init__(self, limit: RejectLimit, reader: _Reading, header: tuple[str, ...]) -> None:
        rejected, rows = len(reader.rejects), max(reader.rows_read, len(reader.rejects))
        self.rejected = RejectedRows(reader.name, header, list(reader.rejects))
        super().__init__(
            f"{rejected:,} of {rows:,}{' or more' if limit.count is not None else ''} rows "
            f"rejected, more than --max-rejected {limit} allows; nothing of this file was loaded",
            file=reader.name)


def write_rejects_csv(path: Path, groups: Sequence[RejectedRows]) -> int:
    """Write the rows of ``groups`` to ``path`` (see the module docstring); the number written.

    Sources with different headers share one file: its columns are the union of theirs, in
    order of appearance, a column a source lacks left null in its rows.
    """
    columns = list(dict.fromkeys(name for group in groups for name in group.header))
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(_line([*columns, *REJECT_COLUMNS]))
        for group in groups:
            where = {name: i for i, name in enumerate(group.header)}
            for reject in group.rejects:
                cells = [reject.values[where[c]] if reject.values and c in where else None
                         for c in columns]
                handle.write(_line([*cells, group.file, str(reject.row), reject.column or None,
                                    reject.rule or None, reject.reason]))
                count += 1
    return count


def _line(cells: Sequence[str | None]) -> str:
    return ",".join("" if c is None else '"' + c.replace('"', '""') + '"' for c in cells) + "\r\n"
