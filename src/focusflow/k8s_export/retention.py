"""Retention of the export job (jobs layer): delete files whose window is older than the cutoff.

Walks only partitions that can hold expired files: one delimiter listing of the ``end=`` months;
months ending on or before the cutoff day's month start are deleted whole, the cutoff's own month
is narrowed to its ``day=`` folders before the cutoff day, and only the cutoff day itself is
checked file by file (by the window start in each file name). Later months are never listed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime

from focusflow.k8s_export.layout import month_end, window_start_of
from focusflow.k8s_export.storage import ObjectStore

log = logging.getLogger(__name__)


def _month_folder(name: str) -> date | None:
    if not name.startswith("end="):
        return None
    try:
        return datetime.strptime(name[4:], "%Y%m%d").replace(tzinfo=UTC).date()
    except ValueError:
        return None


def _day_folder(name: str) -> int | None:
    value = name.removeprefix("day=")
    return int(value) if name.startswith("day=") and value.isdigit() else None


def expired_keys(store: ObjectStore, cluster_root: str, cutoff: int) -> Iterator[str]:
    """Keys of files whose window starts before ``cutoff`` (Unix seconds)."""
    cutoff_day = datetime.fromtimestamp(cutoff, UTC).date()
    cutoff_month_end = month_end(cutoff_day)
    for month in store.list_dirs(cluster_root):
        end = _month_folder(month)
        if end is None or end > cutoff_month_end:
            continue  # not a partition, or a month entirely after the cutoff
        month_root = f"{cluster_root}/{month}" if cluster_root else month
        if end < cutoff_month_end:
            yield from _exported(store, month_root, cutoff)
            continue
        for day_name in store.list_dirs(month_root):
            day = _day_folder(day_name)
            if day is None or day > cutoff_day.day:
                continue
            yield from _exported(store, f"{month_root}/{day_name}", cutoff)


def _exported(store: ObjectStore, prefix: str, cutoff: int) -> Iterator[str]:
    for key in store.list_keys(prefix):
        start = window_start_of(key)
        if start is not None and start < cutoff:
            yield key


def apply_retention(store: ObjectStore, cluster_root: str, cutoff: int) -> int:
    """Delete every expired file; returns how many were deleted."""
    deleted = store.delete(list(expired_keys(store, cluster_root, cutoff)))
    if deleted:
        log.info("retention: deleted %d files with windows before %s from %s", deleted,
                 datetime.fromtimestamp(cutoff, UTC).isoformat(), store.location)
    return deleted
