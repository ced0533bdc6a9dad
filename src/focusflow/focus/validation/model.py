"""The FOCUS requirements model (the spec's machine-readable rules), parsed once into typed objects.

Model layer. The JSON (``Details``, ``ApplicabilityCriteria``, ``CheckFunctions``,
``ModelDatasets``, ``ModelRules``; 621 rules in model 1.2.0.1) is published by the FinOps
Foundation and shipped in the ``focus-validator`` package; ``fetch.py`` obtains it, this module
reads any such file. Check trees are normalised here: the model writes a few conditions as
``{"AND": [...]}`` without ``CheckFunction``, which we read as the AND they mean (and record, so
the report can say so).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from focusflow.errors import ConfigError


class Check(BaseModel):
    """One node of a requirement or condition tree (a check function and its arguments)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    function: str = Field(alias="CheckFunction")
    items: tuple[Check, ...] = Field(default=(), alias="Items")
    column: str | None = Field(default=None, alias="ColumnName")
    column_a: str | None = Field(default=None, alias="ColumnAName")
    column_b: str | None = Field(default=None, alias="ColumnBName")
    result_column: str | None = Field(default=None, alias="ResultColumnName")
    value: str | int | float | None = Field(default=None, alias="Value")
    expected_count: int | None = Field(default=None, alias="ExpectedCount")
    model_rule_id: str | None = Field(default=None, alias="ModelRuleId")
    normalised: bool = False

    @model_validator(mode="before")
    @classmethod
    def _bare_operator(cls, data: Any) -> Any:
        # {"AND": [...]} / {"OR": [...]}: an operator written as a key (model 1.2.0.1 does
        # this for two CapacityReservationStatus conditions).
        if isinstance(data, dict) and "CheckFunction" not in data and len(data) == 1:
            (key, value), = data.items()
            if key in {"AND", "OR"}:
                items = value if isinstance(value, list) else [value]
                return {"CheckFunction": key, "Items": items, "normalised": True}
        return data

    @classmethod
    def of(cls, function: str, *items: Check, column: str | None = None,
           value: str | None = None) -> Check:
        """Build a node in code (overrides, inherited conditions)."""
        data: dict[str, Any] = {"CheckFunction": function, "Items": items}
        if column is not None:
            data.update(ColumnName=column, Value=value)
        return cls.model_validate(data)

    def walk(self) -> list[Check]:
        """This node and every node below it."""
        return [self, *(node for item in self.items for node in item.walk())]

    @property
    def columns(self) -> set[str]:
        """Columns the tree reads (a ColumnPresent check reads the header, not a column)."""
        names: set[str] = set()
        for node in self.walk():
            if node.function == "ColumnPresent":
                continue
            names.update(n for n in (node.column, node.column_a, node.column_b,
                                     node.result_column) if n)
        return names


class ValidationCriteria(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    must_satisfy: str = Field(default="", alias="MustSatisfy")
    keyword: str = Field(default="MUST", alias="Keyword")
    requirement: Check | None = Field(default=None, alias="Requirement")
    condition: Check | None = Field(default=None, alias="Condition")
    dependencies: tuple[str, ...] = Field(default=(), alias="Dependencies")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("Requirement", "Condition"):
                if key in data and not data[key]:
                    data[key] = None
        return data


class ModelRule(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    function: str = Field(alias="Function")
    reference: str = Field(default="", alias="Reference")
    entity_type: str = Field(default="", alias="EntityType")
    status: str = Field(default="Active", alias="Status")
    applicability: tuple[str, ...] = Field(default=(), alias="ApplicabilityCriteria")
    type: str = Field(default="Static", alias="Type")
    criteria: ValidationCriteria = Field(alias="ValidationCriteria")

    @property
    def is_composite(self) -> bool:
        return self.function == "Composite"


class Details(BaseModel):
    model_version: str = Field(alias="ModelVersion")
    focus_version: str = Field(alias="FOCUSVersion")


class Criterion(BaseModel):
    description: str = Field(default="", alias="Description")


class RequirementsModel(BaseModel):
    """A whole requirements model file."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    details: Details = Field(alias="Details")
    applicability_criteria: dict[str, Criterion] = Field(default_factory=dict,
                                                         alias="ApplicabilityCriteria")
    datasets: dict[str, Any] = Field(default_factory=dict, alias="ModelDatasets")
    rules: dict[str, ModelRule] = Field(alias="ModelRules")

    @property
    def model_version(self) -> str:
        return self.details.model_version

    @property
    def focus_version(self) -> str:
        return self.details.focus_version


def load_model(path: Path) -> RequirementsModel:
    """Read a requirements model JSON file; ``ConfigError`` names what is wrong with it."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such requirements model file "
                          "(get one with: focusflow rules fetch)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable requirements model JSON file: {exc}") from exc
    return parse_model(raw, str(path))


def parse_model(raw: Any, name: str) -> RequirementsModel:
    try:
        return RequirementsModel.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"{name}: not a FOCUS requirements model: {where}: {first['msg']} "
            f"({exc.error_count()} problem(s))"
        ) from None
