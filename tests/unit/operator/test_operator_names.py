"""Child names: DNS-1035, <= 63 characters (52 for CronJobs), stable, readable when possible."""

from __future__ import annotations

import pytest

from focusflow.operator.names import child_name, is_dns_label


def test_readable_name_kept_when_valid() -> None:
    assert child_name("azure-focus", "deployment") == "azure-focus-deployment"


@pytest.mark.parametrize("parent", [
    "a" * 60,
    "x" * 253,
    "my.dotted.name-with-a-very-long-tail-that-goes-past-sixty-three-chars",
    "9starts-with-digit",
    "UPPER.case",
])
@pytest.mark.parametrize("suffix", ["configmap", "deployment", "service", "scraper", "endpoint"])
def test_long_or_odd_names_are_shortened_and_valid(parent: str, suffix: str) -> None:
    name = child_name(parent, suffix)
    assert is_dns_label(name), name
    assert len(name) <= 63
    assert name.endswith(f"-{suffix}")
    assert child_name(parent, suffix) == name  # stable


def test_distinct_parents_with_a_common_prefix_do_not_collide() -> None:
    a, b = "p" * 60 + "-a", "p" * 60 + "-b"
    assert child_name(a, "service") != child_name(b, "service")


def test_cronjob_limit() -> None:
    name = child_name("n" * 60, "export", 52)
    assert len(name) <= 52 and is_dns_label(name)
