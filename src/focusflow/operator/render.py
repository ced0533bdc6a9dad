"""``operator render``: every object the operator would create for some manifests (operator layer).

Like ``helm template``: reads CRs, DatabaseConfigs and Secrets, returns the whole tree the
handlers would apply — an ExporterScraperConfig's children including its ScraperConfig, and
that ScraperConfig's own children — using the same render functions. Owner references carry a
placeholder uid; Secret values are redacted, never printed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from focusflow.errors import ConfigError, InputError
from focusflow.operator.reconcile import desired_children
from focusflow.operator.settings import OperatorSettings
from focusflow.operator.yamlio import dump_all

Manifest = dict[str, Any]
REDACTED = "<redacted>"
SERVED = ("ExporterScraperConfig", "ScraperConfig", "PrometheusExport")


def load_manifests(paths: Iterable[Path], default_namespace: str = "default") -> list[Manifest]:
    """All YAML documents of ``paths`` (empty documents skipped), namespaced."""
    docs: list[Manifest] = []
    for path in _expand(paths):
        try:
            loaded = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from exc
        except yaml.YAMLError as exc:
            raise InputError(f"not valid YAML: {exc}", file=str(path)) from exc
        for doc in loaded:
            if doc is None:
                continue
            if not isinstance(doc, dict) or "kind" not in doc or "metadata" not in doc:
                raise InputError("every document needs kind and metadata", file=str(path))
            doc["metadata"].setdefault("namespace", default_namespace)
            docs.append(doc)
    return docs


def _expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a directory stands for its YAML files, sorted (as ``kubectl -f DIR``)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml", ".json"})
        else:
            out.append(path)
    return out


def redact(obj: Manifest) -> Manifest:
    """A copy of ``obj`` with every Secret value replaced by ``<redacted>``."""
    if obj.get("kind") != "Secret":
        return obj
    out = dict(obj)
    for key in ("data", "stringData"):
        if isinstance(obj.get(key), dict):
            out[key] = dict.fromkeys(obj[key], REDACTED)
    return out


def render_tree(docs: list[Manifest], settings: OperatorSettings) -> list[Manifest]:
    """Children of every served CR in ``docs``, recursively, in apply order (unredacted)."""
    databases = {(d["metadata"]["namespace"], d["metadata"]["name"]): d
                 for d in docs if d["kind"] == "DatabaseConfig"}
    out: list[Manifest] = []
    pending = [d for d in docs if d["kind"] in SERVED]
    while pending:
        body = pending.pop(0)
        children = desired_children(body, None, settings, databases)
        out += children
        # A ScraperConfig the operator creates is reconciled in turn: render its children too.
        pending[:0] = [c for c in children if c["kind"] == "ScraperConfig"]
    return out


def render_files(paths: Iterable[Path], settings: OperatorSettings,
                 default_namespace: str = "default") -> str:
    """Multi-document YAML of everything the operator would create, Secrets redacted."""
    docs = load_manifests(paths, default_namespace)
    if not any(d["kind"] in SERVED for d in docs):
        raise ConfigError(f"no {', '.join(SERVED)} in the given files: nothing to render")
    objects = [redact(o) for o in render_tree(docs, settings)]
    return dump_all(objects)
