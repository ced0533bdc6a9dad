"""Retention walks only expired partitions; the run plan honours state, backfill and lag."""

from __future__ import annotations

from pathlib import Path

import pytest

from focusflow.k8s_export import ExportSettings, ExportState, LocalStore, object_key, plan
from focusflow.k8s_export.retention import apply_retention

ROOT = "k8s/prometheus/c"
OCT_31_23H = 1761951600  # 2025-10-31T23:00Z
NOV_1 = 1761955200
NOV_15 = NOV_1 + 14 * 86400


class CountingStore(LocalStore):
    """A local store that records which folders were listed."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.listed: list[str] = []

    def list_keys(self, prefix: str):  # type: ignore[no-untyped-def]
        self.listed.append(prefix)
        return super().list_keys(prefix)


def test_retention_deletes_only_older_windows(tmp_path: Path) -> None:
    store = CountingStore(tmp_path)
    starts = [OCT_31_23H, NOV_1, NOV_15 - 3600, NOV_15, NOV_15 + 3600, NOV_15 + 20 * 86400]
    for start in starts:
        store.put(object_key(ROOT, start, "cpu_requests"), b"x", "application/json")
    store.put(f"{ROOT}/_state.json", b"{}", "application/json")

    deleted = apply_retention(store, ROOT, NOV_15)

    assert deleted == 3
    left = sorted(store.list_keys(ROOT))
    assert left == sorted([f"{ROOT}/_state.json"] + [
        object_key(ROOT, start, "cpu_requests") for start in starts[3:]])
    # Only the expired month and the cutoff month's days up to the cutoff day were listed.
    assert all("end=20251101" in p or "day=1" in p or "day=14" in p or "day=15" in p
               for p in store.listed[:-1])
    assert not any("day=16" in p or "end=20260101" in p or "day=5/" in p
                   for p in store.listed[:-1])


def settings(**extra: object) -> ExportSettings:
    return ExportSettings(cluster_name="c", s3_bucket="file:///tmp/x", **extra)  # type: ignore[arg-type]


NOW = NOV_15 + 5 * 3600 + 1234  # 2025-11-15T05:20:34Z


def test_first_run_starts_backfill_days_ago_and_stops_at_the_lag() -> None:
    first, last_end = plan(settings(), NOW, None, None)
    assert first == NOV_15 - 3 * 86400 + 5 * 3600
    assert last_end == NOV_15 + 4 * 3600  # windows that ended at least an hour ago


def test_resume_from_state_but_never_before_the_floors() -> None:
    state = ExportState(cluster="c", last_completed_window_start=NOV_15, time_frame=3600,
                        metrics=["cpu_requests"])
    assert plan(settings(), NOW, state, None)[0] == NOV_15 + 3600
    old = state.model_copy(update={"last_completed_window_start": NOV_1})
    assert plan(settings(), NOW, old, None)[0] == NOV_15 - 3 * 86400 + 5 * 3600
    assert plan(settings(), NOW, None, NOW - 86400 - 100)[0] == NOV_15 - 86400 + 6 * 3600
    assert plan(settings(retention_days=1), NOW, None, None)[0] == NOV_15 - 86400 + 6 * 3600


@pytest.mark.parametrize(("frame", "expected"), [(900, NOV_15 + 3600), (86400, NOV_15 + 86400)])
def test_resume_after_time_frame_change_aligns_up(frame: int, expected: int) -> None:
    state = ExportState(cluster="c", last_completed_window_start=NOV_15, time_frame=3600,
                        metrics=[])
    assert plan(settings(time_frame=frame), NOW + 86400 * 2, state, None)[0] == expected


def test_initial_backfill_date_replaces_backfill_days_on_a_first_run() -> None:
    # Older than BACKFILL_DAYS: the first run starts at the date, not 3 days ago.
    older = settings(initial_backfill_date="2025-11-01", retention_days=30)
    assert plan(older, NOW, None, None)[0] == NOV_1
    # More recent than BACKFILL_DAYS: it still wins (the user asked to start there).
    recent = settings(initial_backfill_date="2025-11-15T02:00:00Z")
    assert plan(recent, NOW, None, None)[0] == NOV_15 + 2 * 3600


def test_initial_backfill_date_never_skips_a_gap_after_it() -> None:
    # An initial backfill that outlasted one run's deadline continues at the next run, even
    # though its state is older than BACKFILL_DAYS (which alone would jump ahead).
    state = ExportState(cluster="c", last_completed_window_start=NOV_1 + 86400, time_frame=3600,
                        metrics=["cpu_requests"])
    job = settings(initial_backfill_date="2025-11-01", backfill_days="3d")
    assert plan(job, NOW, state, None)[0] == NOV_1 + 86400 + 3600
    assert plan(settings(backfill_days="3d"), NOW, state, None)[0] == \
        NOV_15 - 3 * 86400 + 5 * 3600


def test_initial_backfill_date_is_bounded_by_the_retentions(
        caplog: pytest.LogCaptureFixture) -> None:
    job = settings(initial_backfill_date="2025-11-01", retention_days=7)
    assert plan(job, NOW, None, None)[0] == NOV_15 - 7 * 86400 + 6 * 3600
    assert "INITIAL_BACKFILL_DATE 2025-11-01T00:00:00Z is before what RETENTION_DAYS" \
        in caplog.text
    assert plan(settings(initial_backfill_date="2025-11-01"), NOW, None,
                NOV_1 + 86400 + 1)[0] == NOV_1 + 86400 + 3600
