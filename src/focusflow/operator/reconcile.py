"""Reconcile one custom resource: render, compare, apply, report (operator layer).

This is the apply step the kopf handlers call; it knows nothing of kopf. Desired children come
from the pure render functions; each is compared structurally with what the API holds (desired
fields must be a subset of the live object — server defaults are fine, YAML text is never
compared, R18) and server-side applied only when it differs or is missing. Secrets are applied
blindly: server-side apply of an unchanged object is a no-op, and the operator then needs no
permission to read Secrets at all. Status carries a ``Ready`` condition and child references.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from focusflow.errors import ConfigError
from focusflow.operator.export import render_prometheus_export
from focusflow.operator.focusgroups import groups, render_focus_groups
from focusflow.operator.kube import ApiError, KubeClient, TransientApiError
from focusflow.operator.pipeline import (
    copy_source,
    database_ref,
    filled_copy,
    render_exporter_scraper_config,
    render_scraper_config,
)
from focusflow.operator.settings import OperatorSettings

log = logging.getLogger(__name__)
Manifest = dict[str, Any]

# Which child fills which Krateo status field (reference section 2.1 / 2.2).
_STATUS_REFS = {"Deployment": "active", "ConfigMap": "configMaps", "Service": "services",
                "ScraperConfig": "scraperConfig", "CronJob": "cronJob"}


@dataclass
class Outcome:
    """What a reconcile did: changed children, and the error that stopped it, if any."""

    changed: list[str] = field(default_factory=list)
    error: str | None = None
    reason: str = "Available"


def desired_children(body: Manifest, client: KubeClient | None,
                     settings: OperatorSettings,
                     databases: dict[tuple[str, str], Manifest] | None = None) -> list[Manifest]:
    """The children of ``body``; a ScraperConfig's DatabaseConfig comes from ``databases``
    (``operator render``) or from the API (``client``)."""
    kind = body["kind"]
    if kind == "ExporterScraperConfig":
        return render_exporter_scraper_config(body, settings)
    if kind == "PrometheusExport":
        return render_prometheus_export(body, settings)
    if kind == "ScraperConfig":
        ref = database_ref(body)
        if databases is not None:
            database = databases.get(ref)
        else:
            assert client is not None  # noqa: S101  (one of the two is always given)
            database = client.get("DatabaseConfig", *ref)
        return render_scraper_config(body, database, settings)
    raise ConfigError(f"{kind} is not a kind the operator reconciles")


def is_subset(desired: Any, actual: Any) -> bool:
    """True when every field of ``desired`` has the same value in ``actual``."""
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            key in actual and is_subset(value, actual[key]) for key, value in desired.items())
    if isinstance(desired, list):
        return (isinstance(actual, list) and len(desired) == len(actual)
                and all(is_subset(d, a) for d, a in zip(desired, actual, strict=True)))
    return bool(desired == actual)


def _read_original(client: KubeClient, child: Manifest) -> Manifest:
    """A Secret copy with its original's data (read now: a rotated original propagates)."""
    origin = copy_source(child)
    assert origin is not None  # noqa: S101 - checked by the caller
    try:
        source = client.get("Secret", *origin)
    except ApiError as exc:
        if exc.status != 403:
            raise
        raise ConfigError(
            f"Secret {origin[0]}/{origin[1]}: the operator may not read Secrets in namespace "
            f"{origin[0]!r}; bind the ClusterRole focusflow-operator-secret-reader there "
            "(docs/operator.md, Secrets in other namespaces)") from None
    return filled_copy(child, source)


def sync_children(client: KubeClient, desired: list[Manifest]) -> list[str]:
    """Apply each child that is missing or drifted; return ``Kind/name`` of those applied."""
    changed: list[str] = []
    for child in desired:
        if copy_source(child) is not None:
            child = _read_original(client, child)  # noqa: PLW2901 - the filled copy is applied
        meta = child["metadata"]
        if child["kind"] != "Secret":
            actual = client.get(child["kind"], meta["namespace"], meta["name"])
            if actual is not None and is_subset(child, actual):
                continue
        client.apply(child)
        if child["kind"] != "Secret":
            changed.append(f"{child['kind']}/{meta['name']}")
    return changed


def _condition(previous: Manifest | None, ok: bool, reason: str, message: str) -> Manifest:
    status = "True" if ok else "False"
    since = (previous or {}).get("lastTransitionTime") if (
        previous or {}).get("status") == status else None
    return {"type": "Ready", "status": status, "reason": reason, "message": message[:1000],
            "lastTransitionTime": since or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def desired_status(body: Manifest, children: list[Manifest], outcome: Outcome) -> Manifest:
    current = body.get("status") or {}
    previous = next((c for c in current.get("conditions") or [] if c.get("type") == "Ready"),
                    None)
    status: Manifest = {"observedGeneration": body["metadata"].get("generation", 0)}
    for child in children:
        slot = _STATUS_REFS.get(child["kind"])
        if slot and slot not in status:
            status[slot] = {"apiVersion": child["apiVersion"], "kind": child["kind"],
                            "name": child["metadata"]["name"],
                            "namespace": child["metadata"]["namespace"]}
    if outcome.error is None:
        message = f"{len(children)} children in sync"
        status["conditions"] = [_condition(previous, True, "Available", message)]
    else:
        status["conditions"] = [_condition(previous, False, outcome.reason, outcome.error)]
    return status


def reconcile(client: KubeClient, settings: OperatorSettings, body: Manifest) -> Outcome:
    """Bring the children of ``body`` in line with its spec and report it in its status.

    An invalid spec or a rejected child becomes ``Ready=False`` with the message (the caller
    posts an Event); a transient API failure is raised so the caller retries with backoff.
    """
    meta = body["metadata"]
    where = f"{body['kind']} {meta['namespace']}/{meta['name']}"
    outcome = Outcome()
    if meta.get("deletionTimestamp"):
        # Being deleted: garbage collection removes the children; re-applying would fight it.
        return outcome
    children: list[Manifest] = []
    try:
        children = desired_children(body, client, settings)
        outcome.changed = sync_children(client, children)
    except ConfigError as exc:
        outcome.error, outcome.reason = str(exc), "InvalidSpec"
    except TransientApiError:
        raise
    except ApiError as exc:
        outcome.error, outcome.reason = f"{where}: {exc}", "ApplyFailed"
    if outcome.changed:
        log.info("%s: applied %s", where, ", ".join(outcome.changed))
    status = desired_status(body, children if outcome.error is None else [], outcome)
    old = {k: v for k, v in (body.get("status") or {}).items() if k in status}
    if old != status:
        client.patch_status(body["kind"], meta["namespace"], meta["name"], status)
    return outcome


def _focus_status(member: Manifest, key: str, esc: str) -> Manifest | None:
    """The status patch a FocusConfig needs (None when it already says this)."""
    current = member.get("status") or {}
    previous = next((c for c in current.get("conditions") or [] if c.get("type") == "Ready"),
                    None)
    message = f"row of group {key}, served by ExporterScraperConfig {esc}"
    if current.get("groupKey") == key and (previous or {}).get("message") == message:
        return None
    return {"groupKey": key,
            "conditions": [_condition(previous, True, "Available", message)]}


def sync_focus_namespace(client: KubeClient, namespace: str,
                         versions: dict[str, str] | None = None) -> list[str]:
    """Group the FocusConfigs of ``namespace`` (see ``focusgroups``): apply one
    ExporterScraperConfig per group (owned by its members, so garbage collection removes it
    with the last one) and set each member's ``status.groupKey``. Returns what changed;
    ``versions`` receives the resourceVersion of every FocusConfig this was based on."""
    members = client.list("FocusConfig", namespace)
    if versions is not None:
        versions.clear()
        versions.update({m["metadata"]["name"]: str(m["metadata"].get("resourceVersion"))
                         for m in members})
    for item in members:  # list items carry no kind/apiVersion
        item.setdefault("metadata", {}).setdefault("namespace", namespace)
    rendered = render_focus_groups(namespace, members)
    changed = sync_children(client, [esc for _, esc in rendered])
    by_key = {key: esc["metadata"]["name"] for key, esc in rendered}
    for key, members_of_group in groups(members).items():
        for member in members_of_group:
            status = _focus_status(member, key, by_key[key])
            if status is not None:
                client.patch_status("FocusConfig", namespace, member["metadata"]["name"],
                                    status)
                changed.append(f"FocusConfig/{member['metadata']['name']} status")
    if changed:
        log.info("FocusConfigs of %s: %s", namespace, ", ".join(changed))
    return changed
