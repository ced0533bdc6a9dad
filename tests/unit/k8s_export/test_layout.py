"""Window arithmetic and Finout's key layout (worked examples of the reference, section 4)."""

from __future__ import annotations

import pytest

from focusflow.k8s_export.layout import (
    Window,
    align_down,
    object_key,
    partition,
    state_key,
    step_for,
    window_start_of,
    windows_between,
)


@pytest.mark.parametrize(("start", "suffix"), [
    (1759622400, "end=20251101/day=5/metric=cpu_requests/1759622400_cpu_requests.json.gz"),
    (1761951600, "end=20251101/day=31/metric=cpu_requests/1761951600_cpu_requests.json.gz"),
    (1761955200, "end=20251201/day=1/metric=cpu_requests/1761955200_cpu_requests.json.gz"),
    (1767222000, "end=20260101/day=31/metric=cpu_requests/1767222000_cpu_requests.json.gz"),
    (1767225600, "end=20260201/day=1/metric=cpu_requests/1767225600_cpu_requests.json.gz"),
    (1835478000, "end=20280301/day=29/metric=cpu_requests/1835478000_cpu_requests.json.gz"),
])
def test_reference_examples(start: int, suffix: str) -> None:
    assert object_key("k8s/prometheus/prod", start, "cpu_requests") == (
        f"k8s/prometheus/prod/{suffix}")


def test_empty_prefix_and_state_key() -> None:
    assert object_key("", 1759622400, "x").startswith("end=20251101/day=5/")
    assert state_key("k8s/prometheus/prod") == "k8s/prometheus/prod/_state.json"
    assert state_key("") == "_state.json"


def test_partition_is_utc_and_day_unpadded() -> None:
    assert partition(1759622400 + 86399) == "end=20251101/day=5"
    assert partition(1759622400 - 1) == "end=20251101/day=4"


def test_windows_are_aligned_and_whole() -> None:
    assert align_down(1759622400 + 3599, 3600) == 1759622400
    assert align_down(1759622400, 3600) == 1759622400
    windows = list(windows_between(1759622400, 1759622400 + 3 * 3600 + 10, 3600))
    assert windows == [Window(1759622400 + i * 3600, 1759622400 + (i + 1) * 3600)
                       for i in range(3)]
    assert str(windows[0]) == "2025-10-05T00:00:00Z+3600s"


def test_window_start_from_key() -> None:
    assert window_start_of("a/metric=x/1759622400_x.json.gz") == 1759622400
    assert window_start_of("a/_state.json") is None
    assert window_start_of("a/metric=x/notes_x.json.gz") is None


@pytest.mark.parametrize(("frame", "wanted", "max_points", "step"), [
    (3600, 60, 11000, 60),
    (86400, 1, 11000, 8),      # 86400/8 = 10800 points, under Prometheus's 11k cap
    (86400, 60, 11000, 60),
    (3600, 7, 11000, 8),       # next divisor of the window
    (3600, 60, 30, 120),
])
def test_step_divides_window_and_respects_point_limit(
        frame: int, wanted: int, max_points: int, step: int) -> None:
    chosen = step_for(frame, wanted, max_points)
    assert chosen == step
    assert frame % chosen == 0
    assert frame // chosen <= max_points
