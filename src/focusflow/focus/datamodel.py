"""The published FOCUS 1.4 Data Model, read from the JSON vendored in ``focus/data/``.

Model layer. FOCUS 1.4 defines four datasets (Cost and Usage, Contract Commitment, Invoice
Detail, Billing Period); their columns come from the FinOps Foundation's "FOCUS 1.4 Data Model"
workbook as extracted by the ``focus-data-toolkit`` package (CC-BY-4.0; provenance, package,
version and hashes in ``data/focus_1_4_model.provenance.json``). This module only reads that
file into typed records; ``catalogue.py`` merges them with the hand-written 1.0-1.3 catalogue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

MODEL_FILE = "focus_1_4_model.json"
PROVENANCE_FILE = "focus_1_4_model.provenance.json"

# The workbook's value formats, in the catalogue's spelling (``catalogue.Column.value_format``).
_FORMATS = {
    "Decimal (any)": "Numeric Format",
    "Decimal": "Numeric Format",
    "Date/Time": "Date/Time Format",
    "Currency": "Currency Format",
    "Key-Value": "Key-Value Format",
    "JSON Object": "JSON Object Format",
    "Unit": "Unit Format",
    "Allowed Values": "Allowed Values",
}


@dataclass(frozen=True, slots=True)
class ModelColumn:
    """One column of one dataset as the 1.4 Data Model states it."""

    dataset: str  # the model's dataset id: CostAndUsage, ContractCommitment, ...
    name: str
    data_type: str  # String, Decimal, Date/Time, JSON
    feature_level: str  # Mandatory, Conditional, Recommended
    allows_nulls: bool
    value_format: str  # in the catalogue's spelling, "" when unspecified
    allowed_values: tuple[str, ...]
    introduced: str
    numeric_range: tuple[float, float] | None


def _read(name: str) -> Any:
    return json.loads(resources.files("focusflow.focus").joinpath("data", name).read_bytes())


@cache
def provenance() -> dict[str, Any]:
    """Where the vendored model came from: package, version, licence, file and hashes."""
    data: dict[str, Any] = _read(PROVENANCE_FILE)
    return data


@cache
def model_columns() -> tuple[ModelColumn, ...]:
    """Every column of every dataset of the FOCUS 1.4 Data Model, in the model's order."""
    model = _read(MODEL_FILE)
    found = []
    for dataset in model["datasets"].values():
        for name, spec in dataset["columns"].items():
            if spec.get("deprecated"):
                continue
            span = spec.get("numeric_range")
            found.append(ModelColumn(
                dataset=dataset["dataset_id"], name=name, data_type=spec["data_type"],
                feature_level=spec["feature_level"], allows_nulls=bool(spec["allows_nulls"]),
                value_format=_FORMATS.get(spec.get("value_format") or "", ""),
                allowed_values=tuple(spec.get("allowed_values") or ()),
                introduced=str(spec.get("version") or model["focus_version"]),
                numeric_range=(float(span[0]), float(span[1])) if span else None,
            ))
    return tuple(found)
