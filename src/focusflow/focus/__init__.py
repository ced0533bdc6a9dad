"""The FOCUS data model: column catalogue, typed Arrow schema, readers and conversion.

This layer knows nothing of databases, HTTP servers or Kubernetes; everything else builds on it.
"""

from typing import TYPE_CHECKING

from focusflow.focus import schema as _schema
from focusflow.focus.catalogue import (
    LATEST_VERSION,
    VERSIONS,
    Column,
    Dataset,
    DataType,
    Level,
    columns_for,
    detect_version,
    is_custom,
    lookup,
)
from focusflow.focus.conversion import Reject
from focusflow.focus.formats import Format
from focusflow.focus.locations import (
    HttpOptions,
    Opened,
    display_name,
    open_location,
    register_scheme,
)
from focusflow.focus.reader import FocusReader, Quarantined
from focusflow.focus.schema import (
    Layout,
    LayoutColumn,
    is_json_field,
    resolve_header,
)

__all__ = [
    "DECIMAL",
    "LATEST_VERSION",
    "TIMESTAMP",
    "VERSIONS",
    "Column",
    "DataType",
    "Dataset",
    "FocusReader",
    "Format",
    "HttpOptions",
    "Layout",
    "LayoutColumn",
    "Level",
    "Opened",
    "Quarantined",
    "Reject",
    "columns_for",
    "detect_version",
    "display_name",
    "is_custom",
    "is_json_field",
    "lookup",
    "open_location",
    "register_scheme",
    "resolve_header",
]

if TYPE_CHECKING:
    from focusflow.focus.schema import DECIMAL, TIMESTAMP


def __getattr__(name: str) -> object:
    # The Arrow types, made at first use (see ``focus/schema.py``).
    if name in ("DECIMAL", "TIMESTAMP"):
        return getattr(_schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
