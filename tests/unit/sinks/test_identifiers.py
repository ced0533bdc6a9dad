"""Identifiers from configs are validated and quoted; nothing is formatted into SQL unquoted."""

from __future__ import annotations

import pytest

from focusflow.errors import ConfigError
from focusflow.sinks import quote, quote_table, validate_table_name


@pytest.mark.parametrize("name", ["x; drop table y", "a b", "1abc", "a.b.c", "", "t\"", "a" * 64])
def test_bad_table_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid table name"):
        validate_table_name(name)


def test_good_names_are_quoted() -> None:
    assert quote_table("finops.focus_2024") == '"finops"."focus_2024"'
    assert quote('we"ird / name') == '"we""ird / name"'
