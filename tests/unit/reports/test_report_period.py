"""The report's default and explicit periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from focusflow.errors import ConfigError
from focusflow.reports import default_period, explicit_period


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_default_is_last_full_month_and_the_one_before() -> None:
    period = default_period(utc(2026, 12, 5, 13), today=utc(2026, 12, 6, 20))
    assert (period.start, period.end, period.previous_start) == (
        utc(2026, 11, 1), utc(2026, 12, 1), utc(2026, 10, 1))
    assert (period.label, period.previous_label) == ("November 2026", "October 2026")


def test_default_on_historic_data_is_the_newest_month_with_charges() -> None:
    period = default_period(utc(2026, 5, 28, 23), today=utc(2026, 12, 6))
    assert (period.start, period.end, period.previous_start) == (
        utc(2026, 5, 1), utc(2026, 6, 1), utc(2026, 4, 1))


def test_default_across_a_year_boundary() -> None:
    period = default_period(None, today=utc(2027, 1, 3))
    assert (period.start, period.previous_start) == (utc(2026, 12, 1), utc(2026, 11, 1))


def test_explicit_months_compare_with_as_many_months_before() -> None:
    period = explicit_period(utc(2026, 4, 1), utc(2026, 7, 1))
    assert period.previous_start == utc(2026, 1, 1)


def test_explicit_days_compare_with_the_same_length_before() -> None:
    period = explicit_period(utc(2026, 5, 15), utc(2026, 5, 29))
    assert period.previous_start == utc(2026, 5, 1)
    assert period.label == "2026-05-15 to 2026-05-28"


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--end .* must be after --start"):
        explicit_period(utc(2026, 5, 15), utc(2026, 5, 1))
