"""The typed Arrow schema of a FOCUS file: what each header column becomes on the load path.

A header is resolved once into a ``Layout``: each source column gets its canonical name (the
catalogue's PascalCase ID when it is a FOCUS column, the verbatim name otherwise) and its Arrow
type. Money and quantities are ``decimal128(38, 18)`` (FOCUS samples carry up to 17 fractional
digits; no binary floats), date-times are UTC timestamps, JSON columns (Tags, SkuPriceDetails…)
stay JSON text, and custom ``x_*`` columns are kept verbatim as strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from focusflow.errors import InputError
from focusflow.focus.catalogue import (
    SUPPORTED,
    Column,
    Dataset,
    DataType,
    Level,
    columns_for,
    detect_dataset,
    detect_version,
    lookup,
    require_supported,
    unsupported_version,
)
from focusflow.lazy import lazy_module

if TYPE_CHECKING:
    import pyarrow as pa
else:  # imported at first use: a Parquet load into DuckDB never needs it
    pa = lazy_module("pyarrow")

JSON_METADATA = {b"focus.type": b"JSON"}

if TYPE_CHECKING:
    DECIMAL: pa.Decimal128Type
    TIMESTAMP: pa.TimestampType


def __getattr__(name: str) -> object:
    # DECIMAL and TIMESTAMP are Arrow types: made at first use, so that importing the model
    # does not import pyarrow (a Parquet load into DuckDB never needs it).
    if name == "DECIMAL":
        return arrow_type_of(DataType.DECIMAL)
    if name == "TIMESTAMP":
        return arrow_type_of(DataType.DATETIME)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def arrow_type_of(data_type: DataType | None) -> pa.DataType:
    """The Arrow type a FOCUS data type loads as (text for a column outside the catalogue)."""
    if data_type is DataType.DECIMAL:
        return pa.decimal128(38, 18)
    if data_type is DataType.DATETIME:
        return pa.timestamp("us", tz="UTC")
    return pa.string()


@dataclass(frozen=True, slots=True)
class LayoutColumn:
    """One column of a source file and what it becomes."""

    source_name: str
    name: str
    catalogue: Column | None

    @property
    def arrow_type(self) -> pa.DataType:
        return arrow_type_of(self.catalogue.data_type if self.catalogue else None)

    @property
    def is_json(self) -> bool:
        return self.catalogue is not None and self.catalogue.data_type is DataType.JSON

    def field(self) -> pa.Field:
        metadata = JSON_METADATA if self.is_json else None
        return pa.field(self.name, self.arrow_type, nullable=True, metadata=metadata)


@dataclass(frozen=True, slots=True)
class Layout:
    """A resolved header: FOCUS version, dataset and the typed columns in file order."""

    version: str
    dataset: Dataset
    columns: tuple[LayoutColumn, ...]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([c.field() for c in self.columns])

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def has(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)


def resolve_header(
    header: Sequence[str], *, file: str, version: str | None = None,
    require_mandatory: bool = True,
) -> Layout:
    """Resolve a file's header into a ``Layout``.

    Duplicate or empty names are input errors, and so (unless ``require_mandatory`` is off, as
    the validator needs) is a header lacking a column the FOCUS version makes Mandatory.
    """
    dataset = detect_dataset(header)
    if version is not None:
        require_supported(version)
    elif (older := unsupported_version(header)) is not None:
        raise InputError(
            f"is a FOCUS {older[0]} file (it has {', '.join(older[1])}, which FOCUS 1.0 "
            f"renamed): FOCUS {older[0]} is not a version focusflow supports (it reads "
            f"{SUPPORTED})", file=file, row=0)
    focus_version = version or detect_version(header)
    columns: list[LayoutColumn] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(header, start=1):
        source_name = raw.strip()
        if not source_name:
            raise InputError(f"header column {index} has no name", file=file, row=0)
        column = lookup(source_name, dataset)
        name = column.name if column else source_name
        if name.lower() in seen:
            raise InputError(
                f"header names column {name!r} twice (positions {seen[name.lower()]} and {index})",
                file=file, row=0, column=name,
            )
        seen[name.lower()] = index
        columns.append(LayoutColumn(source_name, name, column))
    layout = Layout(focus_version, dataset, tuple(columns))
    if require_mandatory:
        missing = missing_mandatory(layout)
        if missing:
            raise InputError(
                f"lacks FOCUS {focus_version} {dataset.label} mandatory column(s) "
                f"{', '.join(missing)}",
                file=file, row=0,
            )
    return layout


def missing_mandatory(layout: Layout) -> list[str]:
    """Mandatory columns of the layout's version and dataset that the header lacks."""
    present = set(layout.names)
    return [
        c.name for c in columns_for(layout.version, layout.dataset)
        if c.level(layout.version) is Level.MANDATORY and c.name not in present
    ]


def is_json_field(field: pa.Field) -> bool:
    """True for fields that hold JSON text (so sinks can store them as JSON)."""
    return bool(field.metadata) and field.metadata.get(b"focus.type") == b"JSON"
