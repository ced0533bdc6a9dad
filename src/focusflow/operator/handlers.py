"""kopf handlers: thin plain functions over ``reconcile`` (operator layer).

``build_registry`` registers, for each served kind, the same reconcile on resume, create,
update and a periodic timer (the safety net for drift nobody announces, e.g. of Secrets the
operator may not read); watch handlers on the children it owns (Deployments, ConfigMaps,
Services, CronJobs, ScraperConfigs) re-reconcile the controlling owner when one is changed or
deleted, so drift is repaired within one watch event. Every FocusConfig event regroups the
FocusConfigs of its namespace into generated ExporterScraperConfigs. kopf keeps its bookkeeping in
annotations under ``operator.focusflow.dev`` (the CRD schemas prune unknown status fields).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, cast

import kopf

from focusflow.operator.focusgroups import LABEL_GROUP
from focusflow.operator.kube import ApiError, KubeClient, TransientApiError
from focusflow.operator.names import LABEL_MANAGED_BY, MANAGED_BY
from focusflow.operator.reconcile import reconcile, sync_focus_namespace
from focusflow.operator.settings import OperatorSettings

log = logging.getLogger(__name__)

# (group, version, plural, kind) of the kinds the operator serves.
SERVED = (
    ("finops.krateo.io", "v1", "exporterscraperconfigs", "ExporterScraperConfig"),
    ("finops.krateo.io", "v1", "scraperconfigs", "ScraperConfig"),
    ("focusflow.dev", "v1alpha1", "prometheusexports", "PrometheusExport"),
)
# Children whose drift is repaired as soon as it is seen.
WATCHED_CHILDREN = (
    ("", "v1", "configmaps"),
    ("", "v1", "services"),
    ("apps", "v1", "deployments"),
    ("batch", "v1", "cronjobs"),
    ("networking.k8s.io", "v1", "networkpolicies"),
    ("finops.krateo.io", "v1", "scraperconfigs"),
)
ANNOTATION_PREFIX = "operator.focusflow.dev"


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(manifest: dict[str, Any]) -> threading.Lock:
    # One reconcile per object at a time: a child's watch event and the CR's own handler may
    # fire together; serialising them keeps each apply decision based on fresh state.
    uid = str(manifest.get("metadata", {}).get("uid", ""))
    with _locks_guard:
        return _locks.setdefault(uid, threading.Lock())


def _handle(client: KubeClient, settings: OperatorSettings, manifest: dict[str, Any],
            *, raise_invalid: bool) -> None:
    """Reconcile ``manifest``; report errors as an Event (and to kopf on create/update)."""
    try:
        with _lock_for(manifest):
            outcome = reconcile(client, settings, manifest)
    except TransientApiError as exc:
        raise kopf.TemporaryError(str(exc), delay=10) from exc
    if outcome.error is not None:
        kopf.warn(cast(Any, manifest), reason=outcome.reason, message=outcome.error)
        if raise_invalid:
            # Permanent: kopf stops retrying this change; the next spec edit is handled anew.
            raise kopf.PermanentError(outcome.error)


def _owner_of(body: kopf.Body) -> dict[str, Any] | None:
    for ref in body.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") in {k for *_, k in SERVED}:
            return dict(ref)
    return None


def _login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # The same sources, in the same order, as KubeClient.from_environment.
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


def _configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration")
    settings.posting.level = logging.WARNING  # Events for problems only, not every success
    # Watches end server-side every 5 minutes; the client gives up a little later, so a stream
    # silently cut by a proxy or load balancer is noticed and re-opened.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.execution.max_workers = 8


def _register_served(registry: kopf.OperatorRegistry, client: KubeClient,
                     settings: OperatorSettings) -> None:
    def on_change(body: kopf.Body, **_: Any) -> None:
        _handle(client, settings, dict(body), raise_invalid=True)

    def on_timer(body: kopf.Body, **_: Any) -> None:
        _handle(client, settings, dict(body), raise_invalid=False)

    for group, version, plural, _kind in SERVED:
        for decorator in (kopf.on.resume, kopf.on.create, kopf.on.update):
            decorator(group, version, plural, registry=registry,
                      id=f"{plural}-{decorator.__name__}")(on_change)
        kopf.timer(group, version, plural, registry=registry, id=f"{plural}-resync",
                   interval=settings.resync_seconds, initial_delay=settings.resync_seconds)(
            on_timer)


def _register_children(registry: kopf.OperatorRegistry, client: KubeClient,
                       settings: OperatorSettings) -> None:
    def on_child_event(body: kopf.Body, type: str | None, **_: Any) -> None:
        # type None: the initial listing; resume handlers already cover it.
        owner = _owner_of(body)
        if type is None or owner is None:
            return
        namespace = body.get("metadata", {}).get("namespace")
        try:
            parent = client.get(owner["kind"], namespace, owner["name"])
        except TransientApiError as exc:
            log.warning("cannot read owner of %s/%s: %s", namespace, body.metadata.name, exc)
            return
        meta = (parent or {}).get("metadata") or {}
        # Gone or being deleted: garbage collection owns the children now.
        if parent is None or meta.get("uid") != owner["uid"] or meta.get("deletionTimestamp"):
            return
        _handle(client, settings, parent, raise_invalid=False)

    for group, version, plural in WATCHED_CHILDREN:
        kopf.on.event(group, version, plural, registry=registry, id=f"child-{plural}",
                      labels={LABEL_MANAGED_BY: MANAGED_BY})(on_child_event)


def _register_databases(registry: kopf.OperatorRegistry, client: KubeClient,
                        settings: OperatorSettings) -> None:
    # A watch handler, not create/update: kopf then keeps no state on DatabaseConfigs, so the
    # operator needs no write access to them (only get/list/watch).
    def on_database(body: kopf.Body, type: str | None, **_: Any) -> None:
        if type not in ("ADDED", "MODIFIED"):
            return  # initial listing (resume covers it) or deletion (status shows it)
        # The scraper ConfigMaps embed their DatabaseConfig: re-render the ScraperConfigs using it.
        key = (body.metadata.namespace, body.metadata.name)
        scrapers = ([s for ns in settings.namespaces for s in client.list("ScraperConfig", ns)]
                    if settings.namespaces else client.list("ScraperConfig"))
        for scraper in scrapers:
            ref = (scraper.get("spec") or {}).get("scraperDatabaseConfigRef") or {}
            ns = ref.get("namespace") or scraper["metadata"]["namespace"]
            if (ns, ref.get("name")) == key:
                scraper.setdefault("kind", "ScraperConfig")
                scraper.setdefault("apiVersion", "finops.krateo.io/v1")
                _handle(client, settings, scraper, raise_invalid=False)

    kopf.on.event("finops.krateo.io", "v1", "databaseconfigs", registry=registry,
                  id="databaseconfigs")(on_database)


def _register_focusconfigs(registry: kopf.OperatorRegistry, client: KubeClient,
                           settings: OperatorSettings) -> None:
    # A watch handler: a FocusConfig event re-groups its namespace. No kopf state and no
    # finalizer on FocusConfigs: a deletion needs nothing from the operator (the generated
    # ExporterScraperConfig is also owned by its members), the next event regroups the rest.
    # kopf's listings (at start and after a lost watch) repeat every object: one regrouping
    # per namespace per resync interval is enough for those, not one per FocusConfig.
    synced: dict[str, tuple[float, dict[str, str]]] = {}

    def regroup(namespace: str, name: str | None = None, version: str | None = None) -> None:
        try:
            with _lock_for({"metadata": {"uid": f"focusconfigs/{namespace}"}}):
                at, versions = synced.get(namespace, (0.0, {}))
                fresh = time.monotonic() - at < settings.resync_seconds
                if name is not None and fresh and versions.get(name) == version:
                    return  # already grouped from exactly this version
                versions = {}
                sync_focus_namespace(client, namespace, versions)
                synced[namespace] = (time.monotonic(), versions)
        except TransientApiError as exc:
            log.warning("FocusConfigs of %s: %s (retried on the next event)", namespace, exc)
        except ApiError as exc:
            log.error("FocusConfigs of %s: %s", namespace, exc)  # noqa: TRY400 (one line)

    def on_focusconfig(body: kopf.Body, type: str | None, **_: Any) -> None:
        meta = body.get("metadata", {})
        if type == "DELETED":
            regroup(str(meta.get("namespace")))
        else:
            regroup(str(meta.get("namespace")), str(meta.get("name")),
                    str(meta.get("resourceVersion")))

    def on_generated(body: kopf.Body, type: str | None, **_: Any) -> None:
        # A generated ExporterScraperConfig deleted while its group still has members (by
        # hand, not by garbage collection) is made again at once.
        if type == "DELETED":
            regroup(str(body.get("metadata", {}).get("namespace")))

    kopf.on.event("finops.krateo.io", "v1", "focusconfigs", registry=registry,
                  id="focusconfigs")(on_focusconfig)
    kopf.on.event("finops.krateo.io", "v1", "exporterscraperconfigs", registry=registry,
                  id="generated-exporterscraperconfigs",
                  labels={LABEL_GROUP: "true"})(on_generated)


def build_registry(client: KubeClient, settings: OperatorSettings) -> kopf.OperatorRegistry:
    """A kopf registry with every handler of the operator bound to ``client``/``settings``."""
    registry = kopf.OperatorRegistry()
    kopf.on.startup(registry=registry)(_configure)
    kopf.on.login(registry=registry)(_login)
    _register_served(registry, client, settings)
    _register_children(registry, client, settings)
    _register_databases(registry, client, settings)
    _register_focusconfigs(registry, client, settings)
    return registry


def run_operator(settings: OperatorSettings, *, liveness: str | None = None) -> None:
    """Run kopf until interrupted (standalone: one operator instance, no peering objects)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call is noise
    client = KubeClient.from_environment()
    registry = build_registry(client, settings)
    try:
        kopf.run(registry=registry, standalone=True, clusterwide=not settings.namespaces,
                 namespaces=settings.namespaces, liveness_endpoint=liveness)
    finally:
        client.close()
