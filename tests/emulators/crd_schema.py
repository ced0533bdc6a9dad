"""CRD structural schemas for the Kubernetes API emulator and the CRD tests.

What the real API server does with a custom resource on create/update, reduced to what the
focusflow CRDs use: prune fields the schema does not declare (unless
``x-kubernetes-preserve-unknown-fields``), apply ``default`` values, then validate with the
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


def default(schema: Schema, value: Any) -> Any:
    """Fill ``default`` values of absent properties, recursively."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        out = dict(value)
        for key, sub in props.items():
            if key not in out and "default" in sub:
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
    stored = default(schema, prune(schema, obj))
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(stored),
                    key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = ".".join(str(p) for p in first.absolute_path) or "<root>"
        raise ValueError(f"{path}: {first.message}")
    return stored
