"""Anomalies: median and MAD of the 14 days before, 3.5 robust sigmas and 10 % of the median."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from focusflow.reports.anomalies import find_anomalies
from focusflow.reports.model import DailySeries

DAY0 = date(2026, 5, 1)


def series(values: list[str]) -> DailySeries:
    days = [DAY0 + timedelta(days=i) for i in range(len(values))]
    return DailySeries("USD", days, {"total": [Decimal(v) for v in values]})


def test_a_spike_after_a_noisy_baseline_is_found() -> None:
    values = ["100", "104", "98", "101", "97", "103", "99", "102", "100", "96", "250", "101"]
    [found] = find_anomalies(series(values), DAY0)
    assert found.day == DAY0 + timedelta(days=10)
    assert found.cost == Decimal(250) and found.median == Decimal("100.0")
    assert found.score is not None and found.score > 3.5


def test_a_drop_counts_too() -> None:
    values = ["100", "104", "98", "101", "97", "103", "99", "102", "10"]
    [found] = find_anomalies(series(values), DAY0)
    assert found.cost == Decimal(10) and found.score is not None and found.score < -3.5


def test_noise_within_the_spread_is_not_an_anomaly() -> None:
    values = ["100", "104", "98", "101", "97", "103", "99", "102", "100", "96", "106"]
    assert find_anomalies(series(values), DAY0) == []


def test_flat_baseline_needs_ten_percent() -> None:
    flat = ["50"] * 10
    assert find_anomalies(series([*flat, "50.01"]), DAY0) == []  # MAD 0, a cent is not news
    [found] = find_anomalies(series([*flat, "60"]), DAY0)
    assert found.score is None and found.mad == 0


def test_too_little_history_flags_nothing() -> None:
    assert find_anomalies(series(["1", "1", "1", "1", "1", "1", "900"]), DAY0) == []


def test_days_before_since_are_baseline_only() -> None:
    values = ["100"] * 8 + ["900"] + ["100"] * 3
    assert find_anomalies(series(values), DAY0 + timedelta(days=9)) == []
