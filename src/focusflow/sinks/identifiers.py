"""Validation and quoting of SQL identifiers that come from configs, flags and file headers.

Table names from users are validated against a strict pattern (optionally schema-qualified)
and always quoted; column names from file headers are quoted with embedded quotes doubled and
refused when they hold control characters. Values are never formatted into SQL: they are bound.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from focusflow.errors import ConfigError, InputError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
LOADS_TABLE = "_focusflow_loads"  # every sink's record of loads
MAX_IDENTIFIER_BYTES = 63


def validate_table_name(name: str) -> tuple[str, ...]:
    """Split ``[schema.]table`` into validated parts, or raise ``ConfigError``."""
    parts = tuple(name.split("."))
    if not 1 <= len(parts) <= 2 or not all(_NAME.fullmatch(part) for part in parts):
        raise ConfigError(
            f"invalid table name {name!r}: expected [schema.]table, each part a letter or "
            "underscore followed by up to 62 letters, digits or underscores"
        )
    return parts


def writable_table_name(name: str) -> tuple[str, ...]:
    """``validate_table_name`` for a table rows are loaded into: the loads registry is refused
    (its name would otherwise reach the database as a column mismatch)."""
    parts = validate_table_name(name)
    if parts[-1].lower() == LOADS_TABLE:
        raise ConfigError(f"table {name!r} is focusflow's record of loads, not a table to "
                          "load into; choose another table name")
    return parts


def _checked_table_name(name: str) -> str:
    try:
        writable_table_name(name)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None  # what pydantic reports as a field error
    return name


TableName = Annotated[str, AfterValidator(_checked_table_name)]
"""A ``[schema.]table`` config field to load into, checked when the config is read, not at the
first load."""


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier, embedded quotes doubled."""
    if any(ord(ch) < 32 for ch in identifier) or "\x00" in identifier:
        raise InputError(f"column name {identifier!r} contains control characters")
    return '"' + identifier.replace('"', '""') + '"'


def quote_table(name: str) -> str:
    """The validated, quoted form of a user-supplied ``[schema.]table`` name."""
    return ".".join(quote(part) for part in validate_table_name(name))
