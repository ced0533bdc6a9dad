"""The period a cost report covers, and the one it is compared with (reports layer).

The default is the last full calendar month before today and the month before it. When the
table's newest charge is older than that (historic data such as the bundled May 2026 samples),
the newest month that has charges is reported instead, so a report of an old export is not
empty. An explicit ``[start, end)`` is compared with the period of equal length just before it,
or with the same number of whole months before it when both bounds are month starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from focusflow.errors import ConfigError


@dataclass(frozen=True)
class Period:
    """``[start, end)`` and the comparison period ``[previous_start, start)``."""

    start: datetime
    end: datetime
    previous_start: datetime

    @property
    def previous_end(self) -> datetime:
        return self.start

    @property
    def label(self) -> str:
        return _span(self.start, self.end)

    @property
    def previous_label(self) -> str:
        return _span(self.previous_start, self.start)


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def _is_month_start(moment: datetime) -> bool:
    return moment == month_start(moment)


def _span(start: datetime, end: datetime) -> str:
    if _is_month_start(start) and _is_month_start(end) and add_months(start, 1) == end:
        return start.strftime("%B %Y")
    last = end - timedelta(days=1) if end.time() == datetime.min.time() else end
    return f"{start:%Y-%m-%d} to {last:%Y-%m-%d}"


def explicit_period(start: datetime, end: datetime) -> Period:
    """``[start, end)`` compared with the period of the same length (or months) before it."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise ConfigError(f"--end {end.isoformat()} must be after --start {start.isoformat()}")
    if _is_month_start(start) and _is_month_start(end):
        months = (end.year - start.year) * 12 + end.month - start.month
        return Period(start, end, add_months(start, -months))
    return Period(start, end, start - (end - start))


def default_period(newest_charge: datetime | None, today: datetime) -> Period:
    """The last full month before ``today`` (or the newest month with charges, if older)."""
    current = add_months(month_start(today.astimezone(UTC)), -1)
    if newest_charge is not None:
        newest = month_start(newest_charge.astimezone(UTC))
        current = min(current, newest)
    return Period(current, add_months(current, 1), add_months(current, -1))
