"""Which earlier allocation windows a new one overlaps (``allocation.windows``)."""

from __future__ import annotations

from focusflow.allocation.windows import _parsed, overlapping, window_source_id

H = 3600
DAY = 24 * H
T = 1_790_812_800  # 2026-10-01T00:00:00Z


def test_the_source_id_names_the_window_and_reads_back() -> None:
    source = window_source_id("http://prom:9090", T, T + DAY)
    assert source == "k8s-allocation:http://prom:9090:2026-10-01T00:00:00Z/2026-10-02T00:00:00Z"
    assert _parsed(source.removeprefix("k8s-allocation:http://prom:9090:")) == (T, T + DAY)
    assert _parsed("someone's own id") is None
    assert _parsed("2026-10-01/2026-10-02") is None


def test_only_windows_sharing_an_hour_with_other_bounds_overlap() -> None:
    days = [(T + d * DAY, T + (d + 1) * DAY) for d in range(3)]
    assert overlapping(days, T + DAY, T + 2 * DAY) == []  # the same window: a replacement
    assert overlapping(days, T + 3 * DAY, T + 4 * DAY) == []  # the next day touches, no overlap
    assert overlapping(days, T, T + 3 * DAY) == days  # a window over all three
    assert overlapping(days, T + DAY - H, T + DAY + H) == days[:2]  # one hour into each


def test_a_window_loaded_already_may_be_replaced_whatever_overlaps_it() -> None:
    # Two windows loaded with --allow-overlap: re-running either one replaces its own rows and
    # adds no double count, so it is not refused (the new-user trial found it was).
    loaded = [(T, T + 6 * H), (T + 3 * H, T + 9 * H)]
    assert overlapping(loaded, T + 3 * H, T + 9 * H) == []
    assert overlapping(loaded, T, T + 6 * H) == []
    assert overlapping(loaded, T + 4 * H, T + 9 * H) == loaded  # other bounds: still refused
