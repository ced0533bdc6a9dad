"""The windows earlier allocation runs loaded into a table (allocation layer).

A run's default source identity is ``k8s-allocation:<endpoint>:<start>/<end>``: re-running the
same window replaces its rows, but a window overlapping another with different bounds is a
different load, and the hours they share would be counted twice. ``overlapping`` finds such
windows from the sources whose rows are in the table, so the CLI can refuse before loading.
"""

from __future__ import annotations

from datetime import UTC, datetime

from focusflow.allocation.metrics import HOUR_FORMAT, iso_hour
from focusflow.errors import SinkError
from focusflow.sinks import Sink, quote
from focusflow.sinks.base import SOURCE_COLUMN, query_rows

_PREFIX = "k8s-allocation"

Window = tuple[int, int]  # [start, end) in Unix seconds


def window_source_id(base_url: str, start: int, end: int) -> str:
    """The default source identity of a run over [start, end) against ``base_url``."""
    return f"{_PREFIX}:{base_url}:{iso_hour(start)}/{iso_hour(end)}"


def loaded_windows(sink: Sink, table: str, base_url: str, start: int, end: int
                   ) -> list[Window]:
    """The windows of ``base_url`` with rows in ``table`` for an hour of [start, end), under
    their default source identity (a run given its own ``--source-id`` names no window); none
    if no table yet. Only the window's hours are read (an index on the period serves it)."""
    try:
        _, rows = query_rows(
            sink, table, f"SELECT DISTINCT {quote(SOURCE_COLUMN)} FROM {{table}} WHERE "
            f"{quote('ChargePeriodStart')} < ? AND {quote('ChargePeriodEnd')} > ?",
            [datetime.fromtimestamp(end, UTC), datetime.fromtimestamp(start, UTC)])
    except SinkError:  # nothing loaded yet
        return []
    prefix = f"{_PREFIX}:{base_url}:"
    windows = []
    for (source,) in rows:
        if isinstance(source, str) and source.startswith(prefix):
            window = _parsed(source.removeprefix(prefix))
            if window is not None:
                windows.append(window)
    return sorted(windows)


def overlapping(windows: list[Window], start: int, end: int) -> list[Window]:
    """The ``windows`` that share an hour with [start, end) but are not that window; none when
    [start, end) is loaded already: re-running it replaces its rows, so whatever overlaps it
    (loaded with ``--allow-overlap``) is counted no more often than it is now."""
    if (start, end) in windows:
        return []
    return [w for w in windows if w[0] < end and start < w[1]]


def _parsed(text: str) -> Window | None:
    """The window of ``<start>/<end>`` as ``window_source_id`` writes it, else None."""
    first, sep, last = text.partition("/")
    try:
        return (_seconds(first), _seconds(last)) if sep else None
    except ValueError:  # not a window this module wrote
        return None


def _seconds(hour: str) -> int:
    """``iso_hour`` read back."""
    return int(datetime.strptime(hour, HOUR_FORMAT).replace(tzinfo=UTC).timestamp())
