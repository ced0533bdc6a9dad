"""Typed settings of one allocation run (allocation layer).

The window is ``[start, end)`` in whole UTC hours; everything else has a default. The
Prometheus endpoint and its auth are the export job's ``ExportSettings`` (same fields, same
environment variables), built by ``prometheus_settings``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from focusflow.allocation.prices import DefaultPrices
from focusflow.errors import ConfigError
from focusflow.k8s_export import ExportSettings, load_settings
from focusflow.sinks import TableName

MAX_WINDOW_HOURS = 93 * 24
# Hours per chunk of range queries: what a run holds grows with pods x chunk hours (two chunks
# at most); smaller chunks cost Prometheus more per hour (it re-reads a chunk's samples).
CHUNK_HOURS = 12
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class AllocationSettings(BaseModel):
    """What to allocate and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: datetime
    end: datetime
    table: TableName = "k8s_allocation"  # checked before querying, not when loading
    by: Literal["container", "pod", "controller", "namespace"] = "container"
    resolution_seconds: int = Field(60, ge=1, le=3600)
    cluster_label: str = "cluster"
    default_cluster: str = Field("default", min_length=1)
    cost_column: Literal["EffectiveCost", "BilledCost"] = "EffectiveCost"
    currency: str = Field("USD", min_length=3, max_length=3)
    require_billing: bool = False
    source_id: str | None = None
    prices: DefaultPrices = DefaultPrices()
    chunk_hours: int = Field(CHUNK_HOURS, ge=1, le=24 * 31)

    @field_validator("start", "end")
    @classmethod
    def _whole_utc_hour(cls, value: datetime) -> datetime:
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if value.minute or value.second or value.microsecond:
            raise ValueError("expected a whole UTC hour such as 2025-11-01T00:00:00Z")
        return value

    @field_validator("resolution_seconds")
    @classmethod
    def _divides_hour(cls, value: int) -> int:
        if 3600 % value:
            raise ValueError("expected seconds that divide 3600 (e.g. 30, 60, 300)")
        return value

    @field_validator("cluster_label")
    @classmethod
    def _label_name(cls, value: str) -> str:
        if not _LABEL.fullmatch(value):
            raise ValueError("expected a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        return value

    @model_validator(mode="after")
    def _window(self) -> AllocationSettings:
        hours = (self.end - self.start).total_seconds() / 3600
        if hours <= 0:
            raise ValueError(f"end {self.end:%Y-%m-%dT%H:%M:%SZ} must be after start "
                             f"{self.start:%Y-%m-%dT%H:%M:%SZ}")
        if hours > MAX_WINDOW_HOURS:
            raise ValueError(f"the window is {hours:.0f} hours; expected at most "
                             f"{MAX_WINDOW_HOURS} (run one window per month)")
        return self

    @property
    def start_s(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_s(self) -> int:
        return int(self.end.timestamp())


def allocation_settings(*, labels: Mapping[str, str] | None = None,
                        **values: Any) -> AllocationSettings:
    """Validated settings; problems become one ``ConfigError`` naming each field, as
    ``labels`` calls it if given (the CLI's flags: ``--resolution``, not
    ``resolution_seconds``)."""
    named = labels or {}
    try:
        return AllocationSettings(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "window"
            problems.append(f"{named.get(where, where)}: "
                            f"{error['msg'].removeprefix('Value error, ')}")
        raise ConfigError("invalid allocation settings: " + "; ".join(problems)) from None


def prometheus_settings(*, labels: Mapping[str, str] | None = None,
                        **endpoint: Any) -> ExportSettings:
    """The export job's endpoint settings (URL, auth, TLS, retries) for the allocation queries.

    Only the endpoint fields are used; the export destination fields get inert values.
    Problems name the export job's variables (``PROMETHEUS_URL``), or as ``labels`` maps them.
    """
    return load_settings(subject="Prometheus endpoint", labels=labels,
                         cluster_name="allocation", s3_bucket="unused-by-allocation", **endpoint)
