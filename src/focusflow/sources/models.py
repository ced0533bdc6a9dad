"""Base model for Krateo-shaped YAML: camelCase keys, matched case-insensitively.

Layer: ``sources``. Krateo's operators write configs with Go's yaml.v3, which keeps yaml-tagged
keys (``pollingInterval``) but lower-cases json-only ones (``endpointref``): reference §6.3.
``KrateoModel`` accepts any casing of a field's camelCase name (and its snake_case name), ignores
keys it does not know (``typemeta``, ``status``, legacy ``provider``: Krateo's CRDs define more
than focusflow reads), refuses a key that is a near-miss of a field it knows (``metricTyp``,
``labelName``: a typo would otherwise silently fall back to the default) with a "did you mean",
and turns pydantic's errors into one ``ConfigError`` naming the field path.
"""

from __future__ import annotations

import difflib
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from focusflow.errors import ConfigError
from focusflow.sources.durations import parse_duration

_NEAR_MISS = 0.85  # difflib ratio: metricTyp/metricType 0.95, labelName/labelNames 0.95
# Every field name Krateo's CRDs and config files have defined, current and past
# (finops-operator-exporter config/crd/bases history, reference krateo-compat.md sections 2
# and 6.3): never refused as a typo even where focusflow does not read it (pollingIntervalHours
# is 0.86 like pollingInterval).
KRATEO_FIELDS = frozenset(name.lower() for name in (
    "active", "additionalVariables", "api", "apiVersion", "authenticationMethod", "bearerToken",
    "conditions", "configMaps", "databaseConfigRef", "endpointRef", "exporter",
    "exporterConfig", "fieldPath", "generic", "headers", "key", "kind", "lastTransitionTime",
    "message", "metadata", "metricName", "metricType", "name", "namespace", "objectmeta",
    "ownerReferences", "passwordSecretRef", "path", "payload", "pollingInterval",
    "pollingIntervalHours", "provider", "reason", "requireAuthentication", "resourceVersion",
    "scraperConfig", "scraperDatabaseConfigRef", "services", "spec", "status", "tableName",
    "type", "typemeta", "uid", "url", "urlParsed", "username", "valueColumnIndex", "verb",
))


class KrateoModel(BaseModel):
    """Pydantic base for Krateo CR fragments."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _any_casing(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known: dict[str, str] = {}
        for name, info in cls.model_fields.items():
            alias = info.alias or name
            known[alias.lower()] = alias
            known[name.lower()] = alias
            known[name.replace("_", "").lower()] = alias
        out: dict[str, Any] = {}
        for key, value in data.items():
            target = known.get(str(key).lower())
            if target is None:
                _refuse_near_miss(str(key), known)
                target = str(key)
            if target not in out or key == target:
                out[target] = value
        return out

    @classmethod
    def parse(cls, data: object, *, where: str) -> Self:
        """Validate ``data``; a bad field is a ``ConfigError`` naming ``where`` and the path."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe(exc, where)) from None


def _refuse_near_miss(key: str, known: dict[str, str]) -> None:
    """A key one typo away from a known field is a mistake, not a field of Krateo's."""
    if key.lower() in KRATEO_FIELDS:
        return
    close = difflib.get_close_matches(key.lower(), list(known), n=1, cutoff=_NEAR_MISS)
    if close:
        raise ValueError(f"unknown field {key!r}; did you mean {known[close[0]]!r}?")


def describe(exc: ValidationError, where: str) -> str:
    """One line per problem: ``where: field a.b: message`` (input values left out: secrets)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"field {path}: {message}")
    return f"{where}: " + "; ".join(problems)


def duration_seconds(value: Any) -> float:
    """Pydantic ``BeforeValidator`` body for Go-duration fields."""
    try:
        return parse_duration(value)
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix("duration: ")) from None
