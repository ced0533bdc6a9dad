"""The exporter's configuration: Krateo's ``exporterConfig``, read from a CR YAML file.

Layer: ``exporter``. ``load_exporter_config(path)`` accepts the whole ``ExporterScraperConfig``
object (apiVersion/kind/metadata/spec), just its ``spec``, or just ``exporterConfig``, with
either key casing and either duration form (reference §6.3). focusflow extensions (optional):

- ``aggregateBy: [columns]``: sum the value by these columns instead of one series per row;
- ``source: <location>``: read a path, ``http(s)://`` or ``s3://`` URL instead of ``api``;
- ``labelNames: verbatim | snake``: the header text as Krateo registers it (default,
  Krateo's contract: ``billed_cost{ServiceName=...}``) or snake_case label names
  (``service_name``: no ``promtool check metrics`` lint warnings about camelCase).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BeforeValidator, Field, field_validator, model_validator

from focusflow.errors import ConfigError
from focusflow.sources import ApiConfig, KrateoModel
from focusflow.sources.models import duration_seconds

MIN_POLLING_SECONDS = 1.0

Duration = Annotated[float, BeforeValidator(duration_seconds)]


class MetricType(StrEnum):
    COST = "cost"
    RESOURCE = "resource"
    GENERIC = "generic"


class LabelNames(StrEnum):
    SNAKE = "snake"
    VERBATIM = "verbatim"


class GenericConfig(KrateoModel):
    """``generic``: which column holds the value and the metric's name."""

    metric_name: str = Field(min_length=1)
    value_column_index: int = Field(ge=0)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _text_map(value: Any) -> Any:
    # YAML turns `port: 8080` into an int; Krateo's map is map[string]string.
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    return value


class ExporterConfig(KrateoModel):
    """``spec.exporterConfig`` of an ExporterScraperConfig."""

    api: ApiConfig | None = None
    metric_type: Annotated[MetricType, BeforeValidator(_lower)] = MetricType.COST
    generic: GenericConfig | None = None
    polling_interval: Duration
    additional_variables: Annotated[dict[str, str], BeforeValidator(_text_map)] = Field(
        default_factory=dict)
    aggregate_by: tuple[str, ...] = ()
    # Krateo's contract by default (DESIGN §10): PromQL written for Krateo works unchanged.
    label_names: Annotated[LabelNames, BeforeValidator(_lower)] = LabelNames.VERBATIM
    source: str | None = None

    @field_validator("polling_interval")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value < MIN_POLLING_SECONDS:
            raise ValueError(f"must be at least {MIN_POLLING_SECONDS:g}s (R11: no hot loops)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ExporterConfig:
        if self.metric_type is MetricType.GENERIC and self.generic is None:
            raise ValueError("metricType generic needs generic.metricName and "
                             "generic.valueColumnIndex")
        if self.api is None and self.source is None:
            raise ValueError("api (Krateo endpoint request) or source (a location) is required")
        return self


def read_yaml(path: Path) -> list[Any]:
    """Every document of a YAML file (a ``ConfigError`` names the file on failure)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from exc


def _key(data: dict[str, Any], name: str) -> Any:
    for key, value in data.items():
        if str(key).lower() == name.lower():
            return value
    return None


def exporter_section(doc: Any, where: str) -> Any:
    """The ``exporterConfig`` part of a whole CR, a spec, or the section itself."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: expected a mapping (an ExporterScraperConfig)")
    spec = _key(doc, "spec")
    if isinstance(spec, dict):
        doc = spec
    section = _key(doc, "exporterConfig")
    return section if section is not None else doc


def load_exporter_config(path: Path) -> ExporterConfig:
    """Parse ``path`` (see the module docstring for the accepted shapes)."""
    docs = read_yaml(path)
    if not docs:
        raise ConfigError(f"{path}: empty file, expected an ExporterScraperConfig")
    for doc in docs:
        kind = str(_key(doc, "kind") or "") if isinstance(doc, dict) else ""
        if kind in ("", "ExporterScraperConfig"):
            return ExporterConfig.parse(exporter_section(doc, str(path)),
                                        where=f"{path} exporterConfig")
    raise ConfigError(f"{path}: no ExporterScraperConfig document")
