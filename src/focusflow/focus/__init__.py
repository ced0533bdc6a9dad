"""The FOCUS data model: column catalogue, typed Arrow schema, readers and conversion.

This layer knows nothing of databases, HTTP servers or Kubernetes; everything else builds on it.
"""

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
    DECIMAL,
    TIMESTAMP,
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
