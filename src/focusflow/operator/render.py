"""``operator render``: every object the operator would create for some manifests (operator layer).

Like ``helm template``: reads CRs, DatabaseConfigs and Secrets, returns the whole tree the
handlers would apply — an ExporterScraperConfig's children including its ScraperConfig, and
that ScraperConfig's own children; for FocusConfigs the ExporterScraperConfig of each group and
its tree — using the same render functions. Each custom resource is first pruned and defaulted
as the API server stores it (``admission``), so what ``kubectl apply`` accepts renders. Owner
references carry a placeholder uid; Secret values are redacted, never printed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from focusflow.errors import ConfigError, InputError
from focusflow.operator.admission import admit
from focusflow.operator.focusgroups import render_focus_groups
from focusflow.operator.pipeline import copy_source, database_ref, filled_copy
from focusflow.operator.reconcile import desired_children
from focusflow.operator.settings import OperatorSettings
from focusflow.operator.yamlio import dump_all

Manifest = dict[str, Any]
REDACTED = "<redacted>"
SERVED = ("ExporterScraperConfig", "ScraperConfig", "PrometheusExport", "FocusConfig")


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
            docs.append(admit(doc))
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


def render_tree(docs: list[Manifest], settings: OperatorSettings,
                notes: list[str] | None = None) -> list[Manifest]:
    """Children of every served CR in ``docs``, recursively, in apply order (unredacted).

    A ScraperConfig whose DatabaseConfig is not among ``docs`` is left without children (the
    operator waits for the DatabaseConfig); with ``notes`` given, that is recorded there instead
    of raised.
    """
    databases = {(d["metadata"]["namespace"], d["metadata"]["name"]): d
                 for d in docs if d["kind"] == "DatabaseConfig"}
    secrets = {(d["metadata"]["namespace"], d["metadata"]["name"]): d
               for d in docs if d["kind"] == "Secret"}
    out: list[Manifest] = []
    focus = [d for d in docs if d["kind"] == "FocusConfig"]
    generated = [esc for namespace in sorted({f["metadata"]["namespace"] for f in focus})
                 for _, esc in render_focus_groups(namespace, focus)]
    out += generated
    pending = [d for d in docs if d["kind"] in SERVED and d["kind"] != "FocusConfig"]
    pending += generated
    while pending:
        body = pending.pop(0)
        if notes is not None and body["kind"] == "ScraperConfig" and \
                database_ref(body) not in databases:
            ns, name = database_ref(body)
            notes.append(f"ScraperConfig {body['metadata']['namespace']}/"
                         f"{body['metadata']['name']}: DatabaseConfig {ns}/{name} is not in the "
                         "given files, so its scraper is not rendered (the operator waits for it)")
            continue
        children = [_with_copied_data(c, secrets, notes)
                    for c in desired_children(body, None, settings, databases)]
        out += children
        # A ScraperConfig the operator creates is reconciled in turn: render its children too.
        pending[:0] = [c for c in children if c["kind"] == "ScraperConfig"]
    return out


def _with_copied_data(child: Manifest, secrets: dict[tuple[str, str], Manifest],
                      notes: list[str] | None) -> Manifest:
    """A Secret copy filled from the files' Secret (as the operator fills it from the API)."""
    origin = copy_source(child)
    if origin is None:
        return child
    source = secrets.get(origin)
    if source is None:
        if notes is not None:
            notes.append(f"Secret {origin[0]}/{origin[1]} is not in the given files: its copy "
                         f"{child['metadata']['namespace']}/{child['metadata']['name']} is "
                         "rendered without data (the operator copies it from the cluster)")
        return child
    data = dict(source.get("data") or {})
    # The API server turns stringData into data; do the same for a Secret read from a file.
    for key, value in (source.get("stringData") or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    return filled_copy(child, {"data": data})


def render_files(paths: Iterable[Path], settings: OperatorSettings,
                 default_namespace: str = "default", notes: list[str] | None = None) -> str:
    """Multi-document YAML of everything the operator would create, Secrets redacted.

    ``notes`` collects what was left out and why (see ``render_tree``)."""
    docs = load_manifests(paths, default_namespace)
    if not any(d["kind"] in SERVED for d in docs):
        raise ConfigError(f"no {', '.join(SERVED)} in the given files: nothing to render")
    objects = [redact(o) for o in render_tree(docs, settings,
                                              notes if notes is not None else [])]
    return dump_all(objects)
