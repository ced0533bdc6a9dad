"""Pure render functions for the Krateo pipeline kinds (operator layer).

``render_exporter_scraper_config`` turns an ``ExporterScraperConfig`` into the exporter's
ConfigMap, ServiceAccount, Deployment, ClusterIP Service, the endpoint Secret the scraper uses
to reach it, and the ``ScraperConfig``; ``render_scraper_config`` turns a ``ScraperConfig``
(plus the ``DatabaseConfig`` it references) into the scraper's ConfigMap, ServiceAccount and
Deployment. They read nothing and write nothing: the handlers apply what they return and
``focusflow operator render`` prints it.

The scraper reaches the exporter through an operator-created endpoint Secret (Krateo's own
mechanism, reference section 6.1) whose ``server-url`` is the Service's DNS name,
``http://<service>.<namespace>.svc:2112`` — never a ClusterIP, so a re-created Service keeps
working — and whose ``token`` the exporter's ``/rows`` requires; a NetworkPolicy admits only
the scraper and Prometheus to the exporter (``access``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from focusflow.errors import ConfigError
from focusflow.exporter.config import ExporterConfig as ExporterProgramConfig
from focusflow.operator import access, names
from focusflow.operator.krateo import normalized
from focusflow.operator.models import (
    DatabaseSpec,
    ExporterScraperSpec,
    ObjectRef,
    ScraperSpec,
    SecretKeyRef,
    parse_spec,
)
from focusflow.operator.pods import (
    CONFIG_DIR,
    SECRETS_DIR,
    Manifest,
    SecretMounts,
    http_probe,
    pod_spec,
    resources,
    service_account,
)
from focusflow.operator.settings import OperatorSettings
from focusflow.operator.yamlio import dump_all
from focusflow.scraper.config import DatabaseConfig as DatabaseProgramConfig
from focusflow.scraper.config import ScraperConfig as ScraperProgramConfig

GROUP_VERSION = "finops.krateo.io/v1"
EXPORTER_PORT = 2112
SCRAPER_PORT = 8080
CONFIG_HASH = "focusflow.dev/config-hash"
COPY_OF = "focusflow.dev/copy-of"  # on a Secret copied from another namespace: namespace/name
COPY_KEYS = "focusflow.dev/copy-keys"  # the keys copied (absent: every key)
PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"


def owner_reference(body: Manifest) -> Manifest:
    """A controlling owner reference to ``body`` (placeholder uid when it has none yet)."""
    meta = body["metadata"]
    return {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "name": meta["name"],
        "uid": meta.get("uid") or PLACEHOLDER_UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _where(body: Manifest) -> str:
    meta = body["metadata"]
    return f"{body['kind']} {meta.get('namespace')}/{meta['name']}"


def copy_name(owner: str, namespace: str, name: str) -> str:
    """The name of the copy a CR ``owner`` makes of Secret ``namespace/name``."""
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:8]
    return names.child_name(owner, f"copy-{digest}")


@dataclass
class PodSecrets:
    """The Secrets a pod mounts, and the copies needed for those of other namespaces.

    A pod can mount only Secrets of its own namespace. A reference to another namespace
    (Krateo allows them: its pods read Secrets through the API) becomes a copy next to the
    pod, owned by the CR (so it is deleted with it) and mounted where the original would be.
    The copy has no data here: ``reconcile`` fills it from the original on every reconcile
    (so a rotation propagates) and ``render`` from the Secrets in its files.
    """

    body: Manifest
    labels: dict[str, str]
    owner: Manifest
    mounts: SecretMounts = field(init=False)
    copies: list[Manifest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mounts = SecretMounts(self.body["metadata"]["namespace"])

    def add(self, ref: ObjectRef | SecretKeyRef, key: str | None = None,
            default_ns: str | None = None) -> None:
        namespace = self.body["metadata"]["namespace"]
        ref_ns = ref.namespace or default_ns or namespace
        if ref_ns == namespace:
            self.mounts.add(ref.name, key)
            return
        name = copy_name(self.body["metadata"]["name"], ref_ns, ref.name)
        self.mounts.add(name, key, mounted_as=(ref_ns, ref.name))
        copy = next((c for c in self.copies if c["metadata"]["name"] == name), None)
        if copy is None:
            copy = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": name, "namespace": namespace, "labels": self.labels,
                                 "annotations": {COPY_OF: f"{ref_ns}/{ref.name}"},
                                 "ownerReferences": [self.owner]}}
            self.copies.append(copy)
        keys = self.mounts.secrets[name]
        annotations = copy["metadata"]["annotations"]
        if keys is None:
            annotations.pop(COPY_KEYS, None)
        else:
            annotations[COPY_KEYS] = ",".join(sorted(keys))


def _config_map(name: str, namespace: str, labels: dict[str, str], owner: Manifest,
                text: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels,
                         "ownerReferences": [owner]},
            "data": {"config.yaml": text}}


def _deployment(name: str, namespace: str, instance: str, component: str, *, owner: Manifest,
                config_text: str, pod: Manifest) -> Manifest:
    labels = names.labels(instance, component)
    # The config hash rolls the pod exactly when the rendered config changes (R18): no
    # restartedAt stamp on every reconcile as Krateo does.
    digest = hashlib.sha256(config_text.encode()).hexdigest()[:16]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels,
                     "ownerReferences": [owner]},
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": names.selector(instance, component)},
            "template": {"metadata": {"labels": labels, "annotations": {CONFIG_HASH: digest}},
                         "spec": pod},
        },
    }


def _dump(*docs: Manifest) -> str:
    return dump_all(list(docs))


def _cr_doc(body: Manifest) -> Manifest:
    """What a pod reads: apiVersion, kind, name/namespace and spec — never status."""
    meta = body["metadata"]
    return {"apiVersion": body["apiVersion"], "kind": body["kind"],
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": body.get("spec") or {}}


def exporter_names(name: str) -> dict[str, str]:
    """Child names of an ExporterScraperConfig ``name`` (Krateo's where they fit)."""
    return {
        "configmap": names.child_name(name, "configmap"),
        "deployment": names.child_name(name, "deployment"),
        "service": names.child_name(name, "service"),
        "serviceaccount": names.child_name(name, "exporter"),
        "endpoint": names.child_name(name, "endpoint"),
        "scraperconfig": names.child_name(name, "scraper"),
        "networkpolicy": names.child_name(name, "exporter-ingress"),
    }


def render_exporter_scraper_config(body: Manifest, settings: OperatorSettings) -> list[Manifest]:
    """Every child of an ExporterScraperConfig, in apply order."""
    body = normalized(body)  # Krateo's zero values (operator-focus's ESCs) read as Krateo does
    spec = parse_spec(ExporterScraperSpec, body)
    # The exporter's own model too: what the pod would refuse at start is a status condition now.
    raw_spec = body.get("spec") or {}
    ExporterProgramConfig.parse(raw_spec.get("exporterConfig"),
                                where=f"{_where(body)} spec.exporterConfig")
    if raw_spec.get("scraperConfig"):
        ScraperProgramConfig.parse(raw_spec["scraperConfig"],
                                   where=f"{_where(body)} spec.scraperConfig")
    meta = body["metadata"]
    namespace, n = meta["namespace"], exporter_names(meta["name"])
    owner, instance = owner_reference(body), n["deployment"]
    labels = names.labels(instance, "exporter")

    secrets = PodSecrets(body, labels, owner)
    mounts = secrets.mounts
    endpoint = spec.exporter_config.api.endpoint_ref
    if endpoint is not None:
        secrets.add(endpoint)
    mounts.add(n["endpoint"], access.TOKEN_KEY)  # the /rows token (operator/access.py)
    config_text = _dump(_cr_doc(body))
    container = _program_container("exporter", EXPORTER_PORT, "http-metrics", mounts.mounts())
    container["args"] += ["--rows-token-file", access.token_path(namespace, n["endpoint"])]
    container["resources"] = resources(memory=settings.exporter_memory_request,
                                       memory_limit=settings.exporter_memory_limit)
    volumes = [{"name": "config", "configMap": {"name": n["configmap"]}}, *mounts.volumes()]
    # Without an endpointRef the exporter reads the in-cluster API (Krateo's FocusConfig list,
    # reference section 2.4): only then does the pod get a token, and a Role for exactly that.
    in_cluster = endpoint is None and not raw_spec["exporterConfig"].get("source")
    objects: list[Manifest] = [
        _config_map(n["configmap"], namespace, labels, owner, config_text),
        service_account(n["serviceaccount"], namespace, labels, owner, automount=in_cluster),
    ]
    if in_cluster:
        objects += _focusconfig_reader(n["serviceaccount"], namespace, labels, owner)
    objects += secrets.copies
    pod = pod_spec(settings, container, volumes, n["serviceaccount"], automount_token=in_cluster)
    objects.append(_deployment(n["deployment"], namespace, instance, "exporter", owner=owner,
                               config_text=config_text, pod=pod))
    objects.append(_service(n["service"], namespace, instance, labels, owner))
    objects.append(_endpoint_secret(body, n, labels, owner, settings))
    objects.append(access.network_policy(
        n["networkpolicy"], namespace, exporter=names.selector(instance, "exporter"),
        scraper=access.scraper_selector(n["scraperconfig"]), port="http-metrics",
        labels=labels, owner=owner, settings=settings))
    if spec.scraper_config is not None:
        objects += _scraper_for(body, spec, n, labels, owner)
    return objects


def _endpoint_secret(body: Manifest, n: dict[str, str], labels: dict[str, str],
                     owner: Manifest, settings: OperatorSettings) -> Manifest:
    """The Secret the scraper reaches the exporter with (Krateo's endpoint format): the
    Service's DNS name and the /rows token the exporter also mounts."""
    namespace = body["metadata"]["namespace"]
    url = f"http://{n['service']}.{namespace}.svc:{EXPORTER_PORT}"
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": n["endpoint"], "namespace": namespace,
                         "labels": labels, "ownerReferences": [owner]},
            "stringData": {"server-url": url,
                           access.TOKEN_KEY: access.rows_token(body, settings)}}


def _program_container(program: str, port: int, port_name: str,
                       mounts: list[Manifest]) -> Manifest:
    """The container running ``focusflow <program>`` on its config, secrets and port."""
    return {
        "name": program,
        "command": ["focusflow"],
        "args": [program, "--config", f"{CONFIG_DIR}/config.yaml",
                 "--secrets-dir", SECRETS_DIR, "--listen", f"0.0.0.0:{port}"],
        "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
        "livenessProbe": http_probe("/healthz", port_name, 20),
        "readinessProbe": http_probe("/readyz", port_name, 10),
        "resources": resources(),
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                         *mounts],
    }


def _service(name: str, namespace: str, instance: str, labels: dict[str, str],
             owner: Manifest) -> Manifest:
    # ClusterIP only: cost data is not published on every node's port (R20).
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels,
                         "ownerReferences": [owner]},
            "spec": {"type": "ClusterIP",
                     "selector": names.selector(instance, "exporter"),
                     "ports": [{"name": "http-metrics", "port": EXPORTER_PORT,
                                "targetPort": "http-metrics", "protocol": "TCP"}]}}


def _focusconfig_reader(sa: str, namespace: str, labels: dict[str, str],
                        owner: Manifest) -> list[Manifest]:
    meta = {"name": sa, "namespace": namespace, "labels": labels, "ownerReferences": [owner]}
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
         "rules": [{"apiGroups": ["finops.krateo.io"], "resources": ["focusconfigs"],
                    "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
         "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}]},
    ]


def _scraper_for(body: Manifest, spec: ExporterScraperSpec, n: dict[str, str],
                 labels: dict[str, str], owner: Manifest) -> list[Manifest]:
    """The endpoint Secret (when needed) and the ScraperConfig of an ExporterScraperConfig."""
    assert spec.scraper_config is not None  # noqa: S101  (checked by the caller)
    namespace = body["metadata"]["namespace"]
    raw = (body.get("spec") or {}).get("scraperConfig") or {}
    exporter = (body.get("spec") or {}).get("exporterConfig") or {}
    out: list[Manifest] = []
    api = raw.get("api") or {}
    if not api.get("endpointRef"):
        api = {"path": "/metrics", "verb": "GET",
               "endpointRef": {"name": n["endpoint"], "namespace": namespace}}
    scraper_spec: Manifest = {
        "tableName": raw["tableName"],
        "pollingInterval": raw["pollingInterval"],
        # Krateo copies metricType and generic from the exporter side (reference 6.1).
        "metricType": exporter.get("metricType", "cost"),
        "api": api,
        "scraperDatabaseConfigRef": raw["scraperDatabaseConfigRef"],
    }
    if exporter.get("generic"):
        scraper_spec["generic"] = exporter["generic"]
    for extension in ("exporterUrl", "sourceId"):  # focusflow's, carried over when given
        if raw.get(extension):
            scraper_spec[extension] = raw[extension]
    out.append({"apiVersion": GROUP_VERSION, "kind": "ScraperConfig",
                "metadata": {"name": n["scraperconfig"], "namespace": namespace,
                             "labels": labels, "ownerReferences": [owner]},
                "spec": scraper_spec})
    return out


def scraper_names(name: str) -> dict[str, str]:
    return {"configmap": names.child_name(name, "configmap"),
            "deployment": names.child_name(name, "deployment"),
            "serviceaccount": names.child_name(name, "sa")}


def database_ref(body: Manifest) -> tuple[str, str]:
    """(namespace, name) of the DatabaseConfig a ScraperConfig names."""
    spec = parse_spec(ScraperSpec, body)
    return spec.database_ref.namespace or body["metadata"]["namespace"], spec.database_ref.name


def render_scraper_config(body: Manifest, database: Manifest | None,
                          settings: OperatorSettings) -> list[Manifest]:
    """Every child of a ScraperConfig, given the DatabaseConfig it references (or None)."""
    spec = parse_spec(ScraperSpec, body)
    meta = body["metadata"]
    namespace, n = meta["namespace"], scraper_names(meta["name"])
    owner, instance = owner_reference(body), n["deployment"]
    labels = names.labels(instance, "scraper")
    if database is None:
        db_ns, db_name = database_ref(body)
        raise ConfigError(f"{_where(body)}: field spec.scraperDatabaseConfigRef: "
                          f"DatabaseConfig {db_ns}/{db_name} not found")
    db = parse_spec(DatabaseSpec, database)
    ScraperProgramConfig.parse(body.get("spec"), where=f"{_where(body)} spec")
    program_db = DatabaseProgramConfig.parse(database.get("spec"), where=f"{_where(database)} spec")
    secrets = PodSecrets(body, labels, owner)
    mounts = secrets.mounts
    if spec.api is not None and spec.api.endpoint_ref is not None:
        secrets.add(spec.api.endpoint_ref)
    elif not spec.exporter_url:
        raise ConfigError(f"{_where(body)}: field spec.api.endpointRef: required (or "
                          "spec.exporterUrl): the scraper needs the exporter's address")
    db_ns = database["metadata"].get("namespace")
    env: list[Manifest] = []
    for ref in (db.password_secret_ref, db.token_secret_ref):
        if ref is not None:
            secrets.add(ref, ref.key, db_ns)
    if program_db.krateo_only:
        env.append(_default_database_env(body, database, settings))
    config_text = _dump(_cr_doc(body), _cr_doc(database))
    container = _program_container(
        "scraper", SCRAPER_PORT, "http",
        [{"name": "data", "mountPath": "/var/lib/focusflow"}, *mounts.mounts()],
    )
    if env:
        container["env"] = env
    volumes = [{"name": "config", "configMap": {"name": n["configmap"]}},
               {"name": "data", "emptyDir": {}}, *mounts.volumes()]
    pod = pod_spec(settings, container, volumes, n["serviceaccount"])
    return [
        _config_map(n["configmap"], namespace, labels, owner, config_text),
        service_account(n["serviceaccount"], namespace, labels, owner),
        *secrets.copies,
        _deployment(n["deployment"], namespace, instance, "scraper", owner=owner,
                    config_text=config_text, pod=pod),
    ]


def _default_database_env(body: Manifest, database: Manifest,
                          settings: OperatorSettings) -> Manifest:
    """A Krateo-only DatabaseConfig uses the operator's database, passed by secretKeyRef."""
    if not settings.database_secret:
        raise ConfigError(
            f"{_where(database)}: field spec.type: not set and the operator has no default "
            f"database (set FOCUSFLOW_OPERATOR_DATABASE_SECRET), needed by {_where(body)}")
    return {"name": "FOCUSFLOW_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": settings.database_secret,
                                           "key": settings.database_secret_key}}}



def copy_source(child: Manifest) -> tuple[str, str] | None:
    """(namespace, name) of the Secret ``child`` copies, or None for any other object."""
    origin = ((child.get("metadata") or {}).get("annotations") or {}).get(COPY_OF)
    if child.get("kind") != "Secret" or not origin:
        return None
    namespace, _, name = str(origin).partition("/")
    return namespace, name


def filled_copy(child: Manifest, source: Manifest | None) -> Manifest:
    """The copy ``child`` with the data of its original ``source`` (only the keys it needs).

    Values are passed through as the API returns them (``data``, base64) and never appear in a
    message: errors name the Secret and the key only.
    """
    origin = copy_source(child)
    assert origin is not None  # noqa: S101 - callers check copy_source first
    meta = child["metadata"]
    where = f"Secret {origin[0]}/{origin[1]} (copied to {meta['namespace']}/{meta['name']})"
    if source is None:
        raise ConfigError(f"{where} not found")
    data = dict(source.get("data") or {})
    wanted = meta.get("annotations", {}).get(COPY_KEYS)
    if wanted:
        missing = [k for k in wanted.split(",") if k not in data]
        if missing:
            raise ConfigError(f"{where} has no key {', '.join(missing)}")
        data = {k: data[k] for k in wanted.split(",")}
    return {**child, "data": data}
