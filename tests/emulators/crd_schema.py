"""CRD structural schemas for the Kubernetes API emulator and the CRD tests.

What the real API server does with a custom resource on create/update, reduced to what the
focusflow CRDs use: prune fields the schema does not declare (unless
``x-kubernetes-preserve-unknown-fields``), drop ``null`` values of fields that are neither
``nullable`` nor defaulted (apiextensions-apiserver ``PruneNonNullableNullsWithoutDefaults``),
apply ``default`` values (also in place of such a ``null``), then validate with the
``openAPIV3Schema`` as JSON Schema (``jsonschema``). Not emulated: CEL rules
(``x-kubernetes-validations``) and ``format`` checks (the API server's ``duration`` format
accepts ``1 hour``, which is why the operator re-checks durations itself).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema

Schema = dict[str, Any]


def schema_for(crd: dict[str, Any], version: str) -> Schema:
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return dict(entry["schema"]["openAPIV3Schema"])
    raise KeyError(f"{crd['metadata']['name']} has no version {version}")


def prune(schema: Schema, value: Any) -> Any:
    """Drop object fields the schema does not declare (structural pruning)."""
    if isinstance(value, dict) and schema.get("type") == "object":
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            props = schema.get("properties") or {}
            return {k: prune(props[k], v) if k in props else v for k, v in value.items()}
        if "additionalProperties" in schema:
            sub = schema["additionalProperties"]
            return {k: prune(sub, v) if isinstance(sub, dict) else v for k, v in value.items()}
        props = schema.get("properties") or {}
        if not props:  # e.g. metadata: {type: object}
            return value
        return {k: prune(props[k], v) for k, v in value.items() if k in props}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(schema["items"], item) for item in value]
    return value


def _sub(schema: Schema | None, key: str) -> Schema | None:
    if schema is None:
        return None
    props = schema.get("properties") or {}
    if key in props:
        return dict(props[key])
    extra = schema.get("additionalProperties")
    return dict(extra) if isinstance(extra, dict) else None


def prune_nulls(schema: Schema | None, value: Any) -> Any:
    """Drop nulls of fields that are not ``nullable`` and have no ``default``."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            sub = _sub(schema, key)
            if not (item is None and sub is not None and not sub.get("nullable")
                    and "default" not in sub):
                out[key] = prune_nulls(sub, item)
        return out
    if isinstance(value, list):
        items = (schema or {}).get("items")
        return [prune_nulls(items if isinstance(items, dict) else None, v) for v in value]
    return value


def default(schema: Schema, value: Any) -> Any:
    """Fill ``default`` values of absent (or non-nullable null) properties, recursively."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        out = dict(value)
        for key, sub in props.items():
            if "default" in sub and (key not in out or (out[key] is None
                                                        and not sub.get("nullable"))):
                out[key] = copy.deepcopy(sub["default"])
            if key in out:
                out[key] = default(sub, out[key])
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [default(schema["items"], item) for item in value]
    return value


def admit(crd: dict[str, Any], version: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The object as stored: pruned, defaulted, validated; raises ``ValueError`` if invalid."""
    schema = schema_for(crd, version)
    stored = default(schema, prune_nulls(schema, prune(schema, obj)))
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(stored),
                    key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = ".".join(str(p) for p in first.absolute_path) or "<root>"
        raise ValueError(f"{path}: {first.message}")
    return stored
