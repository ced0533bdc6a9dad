"""FocusConfigs grouped into generated ExporterScraperConfigs, as Krateo's operator-focus does.

Layer: ``operator``; pure functions (the apply step is ``reconcile.sync_focus_namespace``).

krateoplatformops/finops-operator-focus (``internal/utils/utils.go``) groups the FocusConfigs of
a namespace by ``<db namespace>..<db name>..<table>`` of their ``scraperConfig`` (those without
one share the key ``....``, an exporter-only group), records the key in each FocusConfig's
``status.groupKey`` and creates one ExporterScraperConfig per group whose exporter lists the
group through the API (``fieldSelector=status.groupKey=<key>``). The same here, with these
differences (docs/operator.md, "Migrating from Krateo"):

- names are Krateo's (``<table with _ = . as ->-exporter``, ``all-cr-exporter``) when they are
  valid and unique in the namespace; otherwise a sanitised, hashed name of at most 44 characters
  (Krateo's cut from the left can collide, e.g. the same table in two databases);
- the ExporterScraperConfig lists every member FocusConfig as an owner (not controller), so the
  garbage collector removes it with the last member, even when the operator is not running
  (the operator holds no ``delete`` permission). A group emptied by *editing* its last member
  into another group keeps its ExporterScraperConfig, serving no rows, until that member is
  deleted (Krateo's operator-focus also deletes only on a FocusConfig's deletion);
- the exporter-only group polls every 5 minutes (Krateo writes ``0s``) and has no scraper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from focusflow.operator import names
from focusflow.operator.krateo import ZERO_POLLING_DEFAULT, is_zero_duration
from focusflow.operator.models import go_duration_seconds

Manifest = dict[str, Any]

GROUP_VERSION = "finops.krateo.io/v1"
EXPORTER_ONLY = "...."
ALL_CR_EXPORTER = "all-cr-exporter"
MAX_NAME = 44  # Krateo's limit: "-scraper-deployment" (19) is appended to it
LABEL_GROUP = "focusflow.dev/focusconfig-group"
ANNOTATION_KEY = "focusflow.dev/group-key"
PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
_KRATEO_UNSAFE = re.compile(r"[_=.]")


def group_key(focus_config: Manifest) -> str:
    """``<db namespace>..<db name>..<table>``; ``....`` without a ``scraperConfig``."""
    scraper = (focus_config.get("spec") or {}).get("scraperConfig") or {}
    ref = scraper.get("scraperDatabaseConfigRef") or {}
    parts = (ref.get("namespace"), ref.get("name"), scraper.get("tableName"))
    return "..".join(str(part or "") for part in parts)


def table_of(key: str) -> str:
    return key.split("..")[2] if key.count("..") >= 2 else ""


def krateo_name(key: str) -> str:
    """The name operator-focus gives a group's ExporterScraperConfig."""
    if key == EXPORTER_ONLY:
        return ALL_CR_EXPORTER
    name = _KRATEO_UNSAFE.sub("-", table_of(key)) + "-exporter"
    return name[-MAX_NAME:]


def esc_names(keys: Iterable[str]) -> dict[str, str]:
    """Key -> ExporterScraperConfig name: Krateo's when valid and unique, else hashed."""
    keys = sorted(set(keys))
    wanted = {key: krateo_name(key) for key in keys}
    taken = list(wanted.values())
    out = {}
    for key, name in wanted.items():
        if names.is_dns_label(name) and taken.count(name) == 1:
            out[key] = name
        else:
            out[key] = names.child_name(f"{table_of(key) or 'all-cr'}-{key}", "exporter",
                                        max_len=MAX_NAME)
    return out


def list_path(namespace: str, key: str) -> str:
    """What the group's exporter requests (Krateo's path, the key URL-quoted when it must be)."""
    return (f"/apis/finops.krateo.io/v1/namespaces/{namespace}/focusconfigs"
            f"?fieldSelector=status.groupKey={quote(key, safe='.-_')}&limit=500")


def _polling(members: list[Manifest]) -> str:
    """The shortest non-zero scraper interval of the members (operator-focus's rule), or 5m."""
    best: tuple[float, str] | None = None
    for member in members:
        value = ((member.get("spec") or {}).get("scraperConfig") or {}).get("pollingInterval")
        if not isinstance(value, str) or is_zero_duration(value):
            continue
        try:
            seconds = go_duration_seconds(value)
        except ValueError:
            continue  # the ExporterScraperConfig's own check reports a bad one
        if best is None or seconds < best[0]:
            best = (seconds, value)
    return best[1] if best else ZERO_POLLING_DEFAULT


def _owner(member: Manifest) -> Manifest:
    meta = member["metadata"]
    return {"apiVersion": GROUP_VERSION, "kind": "FocusConfig", "name": meta["name"],
            "uid": meta.get("uid") or PLACEHOLDER_UID}


def groups(focus_configs: Iterable[Manifest]) -> dict[str, list[Manifest]]:
    """Members by group key, each list sorted by name; FocusConfigs being deleted left out."""
    out: dict[str, list[Manifest]] = {}
    for item in focus_configs:
        if (item.get("metadata") or {}).get("deletionTimestamp"):
            continue
        out.setdefault(group_key(item), []).append(item)
    return {key: sorted(members, key=lambda m: m["metadata"]["name"])
            for key, members in sorted(out.items())}


def render_group(namespace: str, key: str, name: str, members: list[Manifest]) -> Manifest:
    """The ExporterScraperConfig of one group."""
    polling = _polling(members)
    spec: Manifest = {
        "exporterConfig": {
            "api": {"path": list_path(namespace, key), "verb": "GET"},
            "metricType": "cost",
            "pollingInterval": polling,
            "additionalVariables": {},
        },
    }
    if key != EXPORTER_ONLY:
        ref_ns, ref_name, table = key.split("..", 2)
        spec["scraperConfig"] = {
            "tableName": table,
            "pollingInterval": polling,
            "scraperDatabaseConfigRef": {"name": ref_name, "namespace": ref_ns},
        }
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "ExporterScraperConfig",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {names.LABEL_MANAGED_BY: names.MANAGED_BY, LABEL_GROUP: "true"},
            "annotations": {ANNOTATION_KEY: key},
            "ownerReferences": [_owner(m) for m in members],
        },
        "spec": spec,
    }


def render_focus_groups(namespace: str,
                        focus_configs: Iterable[Manifest]) -> list[tuple[str, Manifest]]:
    """(group key, ExporterScraperConfig) for every non-empty group of ``namespace``."""
    grouped = groups(f for f in focus_configs
                     if (f.get("metadata") or {}).get("namespace") == namespace)
    named = esc_names(grouped)
    return [(key, render_group(namespace, key, named[key], members))
            for key, members in grouped.items()]
