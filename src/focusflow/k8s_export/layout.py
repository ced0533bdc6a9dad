"""Windows and object keys of the export job (jobs layer): pure arithmetic, all in UTC.

A window is ``[start, start + time_frame)`` with ``start`` a multiple of ``time_frame`` in Unix
seconds. Its files go to Finout's layout::

    <prefix>/<cluster>/end=<YYYYMMDD>/day=<D>/metric=<name>/<start>_<name>.json.gz

where ``end`` is the first day of the month after the window start (the exclusive end of the
billing month, as AWS CUR folders) and ``day`` the unpadded day of month of the start.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

STATE_NAME = "_state.json"


@dataclass(frozen=True, order=True)
class Window:
    """One export window ``[start, end)`` in Unix seconds."""

    start: int
    end: int

    @property
    def started(self) -> datetime:
        return datetime.fromtimestamp(self.start, UTC)

    def __str__(self) -> str:
        return f"{self.started:%Y-%m-%dT%H:%M:%SZ}+{self.end - self.start}s"


def align_down(timestamp: float, time_frame: int) -> int:
    """The largest multiple of ``time_frame`` not after ``timestamp``."""
    return math.floor(timestamp / time_frame) * time_frame


def windows_between(first_start: int, last_end: int, time_frame: int) -> Iterator[Window]:
    """Every whole window starting at ``first_start`` and ending at or before ``last_end``."""
    start = first_start
    while start + time_frame <= last_end:
        yield Window(start, start + time_frame)
        start += time_frame


def month_end(day: date) -> date:
    """First day of the month after ``day``."""
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def partition(window_start: int) -> str:
    """``end=<YYYYMMDD>/day=<D>`` of the window starting at ``window_start``."""
    day = datetime.fromtimestamp(window_start, UTC).date()
    return f"end={month_end(day):%Y%m%d}/day={day.day}"


def object_key(cluster_root: str, window_start: int, metric: str) -> str:
    """The key of one (window, metric) file under ``cluster_root`` (``<prefix>/<cluster>``)."""
    name = f"{partition(window_start)}/metric={metric}/{window_start}_{metric}.json.gz"
    return f"{cluster_root}/{name}" if cluster_root else name


def state_key(cluster_root: str) -> str:
    """Where the job's resume state lives, next to the partitions it describes."""
    return f"{cluster_root}/{STATE_NAME}" if cluster_root else STATE_NAME


def window_start_of(key: str) -> int | None:
    """The window start encoded in an exported file's name, or None for any other key."""
    name = key.rsplit("/", 1)[-1]
    head, sep, _ = name.partition("_")
    if not sep or not name.endswith(".json.gz") or not head.isdigit():
        return None
    return int(head)


def step_for(time_frame: int, wanted_step: int, max_points: int) -> int:
    """The smallest step >= ``wanted_step`` that divides the window and keeps the point count
    (``time_frame / step`` per series) within ``max_points``; a divisor keeps every query
    aligned to the step, which Thanos and Mimir frontends need to cache results."""
    step = max(wanted_step, math.ceil(time_frame / max_points))
    while time_frame % step:
        step += 1
    return step
