"""What the API server does to a custom resource before storing it, for ``operator render``.

Layer: ``operator``. ``kubectl apply`` sends a CR to the API server, which (for a structural
schema) drops fields the schema does not declare, drops ``null`` values of fields that are not
``nullable`` and have no default, fills ``default`` values (also in place of such a ``null``) and
only then validates. The operator reconciles the stored object; ``render`` reads the file, so it
applies the same steps (apiextensions-apiserver ``pruning.Prune``,
``defaulting.PruneNonNullableNullsWithoutDefaults`` and ``defaulting.Default``) with the CRDs
focusflow installs: a file ``kubectl apply`` accepts renders the same children the operator
would make. Validation proper stays with the operator's models.

The CRDs are read from the package (``focusflow/operator/crds``, put there by the wheel build
from ``deploy/crds``) or, in a source checkout, from ``deploy/crds`` itself.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

Schema = dict[str, Any]
Manifest = dict[str, Any]

_PACKAGED = Path(__file__).resolve().parent / "crds"
_CHECKOUT = Path(__file__).resolve().parents[3] / "deploy" / "crds"


def crd_dir() -> Path:
    """Where the CRDs are: in the installed package, else in the source checkout."""
    return _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


@cache
def schemas() -> dict[tuple[str, str], Schema]:
    """``(apiVersion, kind)`` -> openAPIV3Schema of every served version of every CRD."""
    out: dict[tuple[str, str], Schema] = {}
    folder = crd_dir()
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = crd["spec"]
        for version in spec["versions"]:
            out[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = \
                version["schema"]["openAPIV3Schema"]
    return out


def admit(doc: Manifest) -> Manifest:
    """``doc`` as the API server would store it (a copy); kinds without a CRD unchanged."""
    schema = schemas().get((str(doc.get("apiVersion")), str(doc.get("kind"))))
    if schema is None:
        return doc
    pruned = prune_nulls(schema, prune(schema, copy.deepcopy(doc)))
    stored: Manifest = default(schema, pruned)
    return stored


def _field_schema(schema: Schema | None, key: str) -> Schema | None:
    if schema is None:
        return None
    props = schema.get("properties") or {}
    if key in props:
        return dict(props[key])
    extra = schema.get("additionalProperties")
    return dict(extra) if isinstance(extra, dict) else None


def prune(schema: Schema, value: Any, *, root: bool = True) -> Any:
    """Drop object fields the schema does not declare (apiVersion/kind/metadata stay)."""
    if isinstance(value, dict) and schema.get("type") == "object":
        keep_unknown = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = _field_schema(schema, key)
            if root and key in ("apiVersion", "kind", "metadata"):
                out[key] = item
            elif sub is not None:
                out[key] = prune(sub, item, root=False)
            elif keep_unknown:
                out[key] = item
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(schema["items"], item, root=False) for item in value]
    return value


def prune_nulls(schema: Schema | None, value: Any) -> Any:
    """Drop ``null`` values of fields that are not ``nullable`` and have no ``default``."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = _field_schema(schema, key)
            if item is None and sub is not None and not sub.get("nullable") \
                    and "default" not in sub:
                continue
            out[key] = prune_nulls(sub, item)
        return out
    if isinstance(value, list):
        items = schema.get("items") if schema else None
        return [prune_nulls(items if isinstance(items, dict) else None, v) for v in value]
    return value


def default(schema: Schema | None, value: Any) -> Any:
    """Fill ``default`` values of absent (or non-nullable ``null``) fields, recursively."""
    if schema is None:
        return value
    if isinstance(value, dict):
        out = dict(value)
        for key, sub in (schema.get("properties") or {}).items():
            if "default" in sub and (key not in out or (out[key] is None
                                                        and not sub.get("nullable"))):
                out[key] = copy.deepcopy(sub["default"])
        for key, item in out.items():
            out[key] = default(_field_schema(schema, key), item)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [default(schema["items"], item) for item in value]
    return value
