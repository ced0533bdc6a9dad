"""Identifiers from configs are validated and quoted; nothing is formatted into SQL unquoted."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from focusflow.allocation.settings import allocation_settings
from focusflow.errors import ConfigError
from focusflow.sinks import LoadRequest, quote, quote_table, validate_table_name
from focusflow.sinks.identifiers import writable_table_name


@pytest.mark.parametrize("name", ["x; drop table y", "a b", "1abc", "a.b.c", "", "t\"", "a" * 64])
def test_bad_table_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid table name"):
        validate_table_name(name)


def test_good_names_are_quoted() -> None:
    assert quote_table("finops.focus_2024") == '"finops"."focus_2024"'
    assert quote('we"ird / name') == '"we""ird / name"'


@pytest.mark.parametrize("name", ["_focusflow_loads", "finops._FOCUSFLOW_LOADS"])
def test_the_loads_registry_is_not_a_table_to_load_into(name: str) -> None:
    # It reached the database as a column mismatch (a raw DuckDB binder error) before.
    with pytest.raises(ConfigError, match="focusflow's record of loads"):
        writable_table_name(name)
    with pytest.raises(ConfigError, match="focusflow's record of loads"):
        LoadRequest(table=name, source_id="s", schema=pa.schema([]), batches=[])
    with pytest.raises(ConfigError, match="focusflow's record of loads"):
        allocation_settings(start=datetime(2026, 10, 1, tzinfo=UTC),
                            end=datetime(2026, 10, 2, tzinfo=UTC), table=name)
    assert validate_table_name(name)  # still a name a query may read
