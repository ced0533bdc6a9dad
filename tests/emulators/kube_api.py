"""Kubernetes API emulator: a real HTTP server on 127.0.0.1 speaking the documented REST shapes.

Named as an emulator; the product never knows it exists (it reaches it through an ordinary
kubeconfig). Implemented, as the API reference documents them:

- discovery: ``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/<group>/<version>``;
- namespaced (and a few cluster-scoped) objects: create (``generateName`` too), get, list
  (``labelSelector``, ``fieldSelector`` on ``metadata.name``/``metadata.namespace`` and a CRD's
  ``selectableFields``, 400 for other fields; ``limit``/``continue``), watch (``?watch=true``:
  JSON lines, from a ``resourceVersion``, ``timeoutSeconds``), replace, delete;
- patch: JSON merge patch, JSON patch (RFC 6902 incl. ``test``), strategic merge (treated as a
  merge patch) and server-side apply (create or merge, forced; no managedFields tracking);
- a global ``resourceVersion`` with 409 Conflict on stale writes, ``generation`` bumped on
  spec changes only, no-op writes that change nothing (no new version, no event);
- the ``status`` subresource for CRDs that declare it (the main endpoint ignores status);
- CRD structural schemas: pruning, defaults and validation of custom resources (422);
- ownerReferences with garbage collection (background or foreground cascading delete) and
  finalizers (deletionTimestamp until they are removed);
- bearer-token authentication (401 without it); every request is recorded with its user, so
  tests can check a client's requests against an RBAC role (the emulator does not authorise).

Not emulated: controllers (no Pods, no ReplicaSets, no Deployment status), admission webhooks,
RBAC authorisation, CEL rules.
"""

from __future__ import annotations

import copy
import itertools
import json
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from emulators import crd_schema

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = False
    crd: Obj | None = None

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


BUILTINS = [
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, status_subresource=True),
    Resource("", "v1", "configmaps", "ConfigMap"),
    Resource("", "v1", "secrets", "Secret"),
    Resource("", "v1", "services", "Service", status_subresource=True),
    Resource("", "v1", "serviceaccounts", "ServiceAccount"),
    Resource("", "v1", "events", "Event"),
    Resource("apps", "v1", "deployments", "Deployment", status_subresource=True),
    Resource("batch", "v1", "cronjobs", "CronJob", status_subresource=True),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"),
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions",
             "CustomResourceDefinition", namespaced=False, status_subresource=True),
]


class ApiStatusError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def body(self) -> Obj:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def json_patch(doc: Obj, ops: list[Obj]) -> Obj:  # noqa: PLR0912
    """RFC 6902 JSON patch (add, remove, replace, test)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        *parents, last = _pointer(op["path"])
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        kind = op["op"]
        if kind == "test":
            current = node[int(last)] if isinstance(node, list) else node.get(last)
            if current != op.get("value"):
                raise ApiStatusError(422, "Invalid", f"test failed at {op['path']}")
        elif kind in ("add", "replace"):
            if isinstance(node, list):
                index = len(node) if last == "-" else int(last)
                if kind == "add":
                    node.insert(index, op["value"])
                else:
                    node[index] = op["value"]
            else:
                node[last] = op["value"]
        elif kind == "remove":
            if isinstance(node, list):
                node.pop(int(last))
            else:
                node.pop(last, None)
        else:
            raise ApiStatusError(422, "Invalid", f"unsupported op {kind}")
    return doc


def _field_value(obj: Obj, path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "" if node is None else str(node)


def _field_selector(res: Resource, selector: str) -> list[tuple[str, bool, str]]:
    """(field path, equal?, value) terms; only fields the API server lets one select on."""
    allowed = {"metadata.name", "metadata.namespace"}
    for version in (res.crd or {}).get("spec", {}).get("versions", []):
        if version["name"] == res.version:
            allowed |= {f["jsonPath"].lstrip(".") for f in version.get("selectableFields", [])}
    terms = []
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        key, value = term.split("!=" if negate else "=", 1)
        key, value = key.strip(), value.lstrip("=")
        if key not in allowed:
            raise ApiStatusError(400, "BadRequest",
                                 f'field label not supported: "{key}"')
        terms.append((key, not negate, value))
    return terms


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class KubeApiEmulator:
    """In-memory API server state plus the HTTP front end (see the module docstring)."""

    def __init__(self, crds: list[Obj] | None = None, token: str = "emulator-token") -> None:  # noqa: S107
        self.token = token
        self.tokens: dict[str, str] = {token: "admin"}  # bearer token -> user name
        self.resources: dict[tuple[str, str, str], Resource] = {}
        self.objects: dict[tuple[str, str, str], dict[tuple[str, str], Obj]] = {}
        self.log: list[tuple[int, tuple[str, str, str], str, Obj]] = []
        self.history: dict[tuple[str, str, str], list[Obj]] = {}  # every stored version
        self.requests: list[tuple[str, str, str]] = []  # (user, method, path)
        # (user, method, plural, namespace) answered 403 Forbidden: a test's stand-in for a
        # missing RoleBinding (the emulator does not evaluate RBAC rules).
        self.forbidden: set[tuple[str, str, str, str]] = set()
        self._rv = itertools.count(1)
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._stopping = False
        self._scheme = "http"
        for res in BUILTINS:
            self._register(res)
        for crd in crds or []:
            self.create(self.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
                        "", copy.deepcopy(crd))

    # ---- resource registry -------------------------------------------------------------
    def _register(self, res: Resource) -> None:
        key = (res.group, res.version, res.plural)
        self.resources[key] = res
        self.objects.setdefault(key, {})

    def _register_crd(self, crd: Obj) -> None:
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served", True):
                self._register(Resource(
                    spec["group"], version["name"], spec["names"]["plural"],
                    spec["names"]["kind"], namespaced=spec["scope"] == "Namespaced",
                    status_subresource="status" in (version.get("subresources") or {}),
                    crd=crd))

    def resource(self, group: str, version: str, plural: str) -> Resource:
        try:
            return self.resources[(group, version, plural)]
        except KeyError:
            raise ApiStatusError(404, "NotFound",
                             f"the server could not find the requested resource "
                             f"({group}/{version} {plural})") from None

    def by_kind(self, kind: str) -> Resource:
        return next(r for r in self.resources.values() if r.kind == kind)

    # ---- storage -----------------------------------------------------------------------
    def _key(self, res: Resource) -> tuple[str, str, str]:
        return (res.group, res.version, res.plural)

    def _emit(self, res: Resource, kind: str, obj: Obj) -> None:
        self.log.append((int(obj["metadata"]["resourceVersion"]), self._key(res), kind,
                         copy.deepcopy(obj)))
        meta = obj["metadata"]
        self.history.setdefault((res.kind, meta.get("namespace", ""), meta["name"]),
                                []).append(copy.deepcopy(obj))
        self._lock.notify_all()

    def _admit(self, res: Resource, obj: Obj) -> Obj:
        obj.setdefault("apiVersion", res.group_version)
        obj.setdefault("kind", res.kind)
        if res.crd is not None:
            try:
                obj = crd_schema.admit(res.crd, res.version, obj)
            except ValueError as exc:
                name = obj.get("metadata", {}).get("name", "")
                raise ApiStatusError(422, "Invalid",
                                 f'{res.kind}.{res.group} "{name}" is invalid: {exc}') from None
        return obj

    def get(self, res: Resource, namespace: str, name: str) -> Obj:
        with self._lock:
            obj = self.objects[self._key(res)].get((namespace, name))
            if obj is None:
                raise ApiStatusError(404, "NotFound", f'{res.plural} "{name}" not found')
            return copy.deepcopy(obj)

    def list(self, res: Resource, namespace: str | None, selector: str = "") -> list[Obj]:
        with self._lock:
            items = [copy.deepcopy(o) for (ns, _), o in sorted(self.objects[self._key(res)].items())
                     if (namespace is None or ns == namespace)
                     and _selector_matches(selector, o["metadata"].get("labels") or {})]
        return items

    def create(self, res: Resource, namespace: str, obj: Obj) -> Obj:
        with self._lock:
            meta = obj.setdefault("metadata", {})
            if res.namespaced:
                if (namespace and meta.get("namespace", namespace) != namespace):
                    raise ApiStatusError(400, "BadRequest", "namespace of the body and URL differ")
                meta["namespace"] = namespace
                if ("", namespace) not in self.objects[("", "v1", "namespaces")]:
                    raise ApiStatusError(404, "NotFound", f'namespaces "{namespace}" not found')
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            if not meta.get("name"):
                raise ApiStatusError(422, "Invalid", "metadata.name: Required value")
            key = (namespace if res.namespaced else "", meta["name"])
            store = self.objects[self._key(res)]
            if key in store:
                raise ApiStatusError(409, "AlreadyExists",
                                 f'{res.plural} "{meta["name"]}" already exists')
            obj = self._admit(res, obj)
            meta = obj["metadata"]
            meta.update(uid=str(uuid.uuid4()), resourceVersion=str(next(self._rv)),
                        creationTimestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        generation=1)
            if res.status_subresource and res.crd is not None:
                obj.pop("status", None)
            store[key] = obj
            if res.kind == "CustomResourceDefinition":
                self._register_crd(obj)
            self._emit(res, "ADDED", obj)
            return copy.deepcopy(obj)

    def update(self, res: Resource, namespace: str, name: str, new: Obj, *,
               subresource: str | None = None, check_rv: bool = True) -> Obj:
        """Replace an object (or only its status); no-op writes change nothing."""
        with self._lock:
            store = self.objects[self._key(res)]
            key = (namespace if res.namespaced else "", name)
            old = store.get(key)
            if old is None:
                raise ApiStatusError(404, "NotFound", f'{res.plural} "{name}" not found')
            sent_rv = (new.get("metadata") or {}).get("resourceVersion")
            if check_rv and sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
                raise ApiStatusError(409, "Conflict",
                                 f'Operation cannot be fulfilled on {res.plural} "{name}": the '
                                 "object has been modified; please apply your changes to the "
                                 "latest version and try again")
            if subresource == "status":
                merged = copy.deepcopy(old)
                merged["status"] = new.get("status")
                if merged["status"] is None:
                    merged.pop("status")
            else:
                merged = copy.deepcopy(new)
                merged.setdefault("metadata", {})
                # Immutable and server-owned fields survive a replace.
                for field in ("uid", "creationTimestamp", "namespace", "name", "generation",
                              "deletionTimestamp"):
                    if field in old["metadata"]:
                        merged["metadata"][field] = old["metadata"][field]
                if res.status_subresource:
                    merged.pop("status", None)
                    if "status" in old:
                        merged["status"] = old["status"]
            merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            merged = self._admit(res, merged)
            if merged == old:
                return copy.deepcopy(old)
            if subresource is None and merged.get("spec") != old.get("spec"):
                merged["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
            merged["metadata"]["resourceVersion"] = str(next(self._rv))
            meta = merged["metadata"]
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                del store[key]
                self._emit(res, "DELETED", merged)
                self._collect(merged["metadata"]["uid"])
                return copy.deepcopy(merged)
            store[key] = merged
            self._emit(res, "MODIFIED", merged)
            return copy.deepcopy(merged)

    def patch(self, res: Resource, namespace: str, name: str, content_type: str, body: Any,
              *, subresource: str | None = None) -> Obj:
        with self._lock:
            if content_type.startswith("application/apply-patch"):
                try:
                    current = self.get(res, namespace, name)
                except ApiStatusError as exc:
                    if exc.code != 404:
                        raise
                    return self.create(res, namespace, copy.deepcopy(body))
                patched = merge_patch(current, body)
            else:
                current = self.get(res, namespace, name)
                if content_type.startswith("application/json-patch+json"):
                    patched = json_patch(current, body)
                else:  # merge-patch and strategic-merge-patch
                    patched = merge_patch(current, body)
            check = (patched.get("metadata") or {}).get("resourceVersion") != \
                current["metadata"]["resourceVersion"]
            return self.update(res, namespace, name, patched, subresource=subresource,
                               check_rv=check)

    def delete(self, res: Resource, namespace: str, name: str,
               propagation: str = "Background") -> Obj:
        with self._lock:
            store = self.objects[self._key(res)]
            key = (namespace if res.namespaced else "", name)
            obj = store.get(key)
            if obj is None:
                raise ApiStatusError(404, "NotFound", f'{res.plural} "{name}" not found')
            if propagation == "Foreground":
                self._collect(obj["metadata"]["uid"])
            if obj["metadata"].get("finalizers"):
                if not obj["metadata"].get("deletionTimestamp"):
                    obj = copy.deepcopy(obj)
                    obj["metadata"]["deletionTimestamp"] = datetime.now(UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")
                    obj["metadata"]["resourceVersion"] = str(next(self._rv))
                    store[key] = obj
                    self._emit(res, "MODIFIED", obj)
                return copy.deepcopy(obj)
            del store[key]
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(next(self._rv))
            self._emit(res, "DELETED", obj)
            if propagation != "Orphan":
                self._collect(obj["metadata"]["uid"])
            return obj

    def _collect(self, owner_uid: str) -> None:
        """Garbage collector: dependents whose last owner is gone are deleted (cascading)."""
        for key, store in self.objects.items():
            res = self.resources[key]
            for (ns, name), obj in list(store.items()):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == owner_uid for r in refs):
                    rest = [r for r in refs if r.get("uid") != owner_uid]
                    if rest:
                        updated = copy.deepcopy(obj)
                        updated["metadata"]["ownerReferences"] = rest
                        self.update(res, ns, name, updated, check_rv=False)
                    elif (ns, name) in store:
                        self.delete(res, ns, name)

    # ---- watch -------------------------------------------------------------------------
    def events_since(self, res: Resource, namespace: str | None, since: int,
                     selector: str) -> list[tuple[int, str, Obj]]:
        key = self._key(res)
        return [(rv, kind, obj) for rv, k, kind, obj in self.log
                if k == key and rv > since
                and (namespace is None or obj["metadata"].get("namespace") == namespace)
                and _selector_matches(selector, obj["metadata"].get("labels") or {})]

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> Any:
        """Block until ``predicate()`` is truthy, re-checking on every stored change."""
        with self._lock:
            result = self._lock.wait_for(predicate, timeout)
        if not result:
            raise TimeoutError(f"condition not met within {timeout}s")
        return result

    def find(self, kind: str, namespace: str, name: str) -> Obj | None:
        """The stored object (a copy), or None — for assertions in tests."""
        with self._lock:
            obj = self.objects[self._key(self.by_kind(kind))].get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def all_in(self, namespace: str) -> list[Obj]:
        """Every stored object of ``namespace`` (copies), all kinds."""
        with self._lock:
            return [copy.deepcopy(o) for store in self.objects.values()
                    for (ns, _), o in store.items() if ns == namespace]

    @property
    def resource_version(self) -> int:
        return int(self.log[-1][0]) if self.log else 0

    # ---- HTTP server -------------------------------------------------------------------
    def start(self, tls: tuple[str, str] | None = None) -> str:
        """Serve on a free loopback port; ``tls`` = (certificate file, key file) for HTTPS."""
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._scheme = "http"
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                         name="kube-api-emulator").start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._stopping = True
        with self._lock:
            self._lock.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def add_user(self, name: str) -> str:
        """A new bearer token for ``name`` (to tell its requests apart)."""
        token = f"{name}-{uuid.uuid4().hex}"
        self.tokens[token] = name
        return token

    def kubeconfig(self, token: str | None = None, **cluster: object) -> str:
        """A kubeconfig for this server; ``cluster`` adds fields such as
        ``certificate-authority-data`` or ``insecure-skip-tls-verify``."""
        return json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url, **cluster}}],
            "users": [{"name": "emulator", "user": {"token": token or self.token}}],
            "contexts": [{"name": "emulator",
                          "context": {"cluster": "emulator", "user": "emulator"}}],
        })

    # ---- discovery ---------------------------------------------------------------------
    def discovery(self, path: str) -> Obj | None:
        if path == "/version":
            return {"major": "1", "minor": "30", "gitVersion": "v1.30.0-emulator",
                    "platform": "linux/amd64"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for res in self.resources.values():
                if res.group:
                    versions = groups.setdefault(res.group, [])
                    if res.version not in versions:
                        versions.append(res.version)
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                for g, vs in sorted(groups.items())]}
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            return None
        found = [r for r in self.resources.values() if (r.group, r.version) == (group, version)]
        if not found:
            raise ApiStatusError(404, "NotFound", f"no group version {group}/{version}")
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        resources = []
        for res in found:
            resources.append({"name": res.plural, "singularName": res.kind.lower(),
                              "namespaced": res.namespaced, "kind": res.kind, "verbs": verbs})
            if res.status_subresource:
                resources.append({"name": f"{res.plural}/status", "singularName": "",
                                  "namespaced": res.namespaced, "kind": res.kind,
                                  "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources}


def _route(api: KubeApiEmulator, path: str) -> tuple[Resource, str | None, str | None, str | None]:
    """(resource, namespace, name, subresource) of a resource URL."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise ApiStatusError(404, "NotFound", f"unknown path {path}")
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest:
        raise ApiStatusError(404, "NotFound", f"unknown path {path}")
    res = api.resource(group, version, rest[0])
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if res.namespaced is False and namespace is not None:
        raise ApiStatusError(404, "NotFound", f"{res.plural} is not namespaced")
    return res, namespace, name, sub


class _Handler(BaseHTTPRequestHandler):
    api: KubeApiEmulator
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes: without NODELAY, Nagle plus delayed ACKs
        # add ~40 ms to every keep-alive request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: pytest captures stderr

    def _send(self, code: int, body: Obj) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else {}

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        auth = self.headers.get("Authorization", "")
        user = self.api.tokens.get(auth.removeprefix("Bearer "), "") \
            if auth.startswith("Bearer ") else ""
        self.api.requests.append((user, method, self.path))
        try:
            if not user:
                raise ApiStatusError(401, "Unauthorized", "Unauthorized")  # noqa: TRY301
            if method == "GET":
                found = self.api.discovery(url.path)
                if found is not None:
                    self._send(200, found)
                    return
            res, namespace, name, sub = _route(self.api, url.path)
            if (user, method, res.plural, namespace or "") in self.api.forbidden:
                raise ApiStatusError(403, "Forbidden",  # noqa: TRY301
                                     f'{res.plural} is forbidden: User "{user}" cannot '
                                     f'{method.lower()} resource "{res.plural}" in namespace '
                                     f'"{namespace}"')
            self._serve(method, res, namespace, name, sub, query)
        except ApiStatusError as exc:
            self._send(exc.code, exc.body())
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            self._send(400, ApiStatusError(400, "BadRequest", f"bad request: {exc}").body())

    def _serve(self, method: str, res: Resource, namespace: str | None, name: str | None,  # noqa: PLR0917
               sub: str | None, query: dict[str, str]) -> None:
        api, ns = self.api, namespace or ""
        if sub not in (None, "status") or (sub == "status" and not res.status_subresource):
            raise ApiStatusError(404, "NotFound", f"no subresource {sub}")
        if method == "GET" and name is None:
            if query.get("watch") in ("true", "1"):
                self._watch(res, namespace, query)
                return
            self._send(200, self._list(res, namespace, query))
        elif method == "GET":
            self._send(200, api.get(res, ns, name))  # type: ignore[arg-type]
        elif method == "POST" and name is None:
            self._send(201, api.create(res, ns, self._body()))
        elif method == "PUT" and name is not None:
            self._send(200, api.update(res, ns, name, self._body(), subresource=sub))
        elif method == "PATCH" and name is not None:
            ctype = self.headers.get("Content-Type", "")
            try:
                body = self._body()
            except json.JSONDecodeError as exc:
                raise ApiStatusError(415, "UnsupportedMediaType", "only JSON bodies") from exc
            self._send(200, api.patch(res, ns, name, ctype, body, subresource=sub))
        elif method == "DELETE" and name is not None:
            options = self._body() or {}
            policy = options.get("propagationPolicy") or query.get("propagationPolicy") \
                or "Background"
            self._send(200, api.delete(res, ns, name, policy))
        else:
            raise ApiStatusError(405, "MethodNotAllowed", f"{method} not allowed here")

    def _list(self, res: Resource, namespace: str | None, query: dict[str, str]) -> Obj:
        fields = _field_selector(res, query.get("fieldSelector", ""))
        with self.api._lock:
            items = self.api.list(res, namespace, query.get("labelSelector", ""))
            rv = str(self.api.resource_version)
        items = [o for o in items
                 if all((_field_value(o, k) == v) == eq for k, eq, v in fields)]
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or 0) or len(items) or 1
        page = items[start:start + limit]
        more = start + limit < len(items)
        return {"kind": f"{res.kind}List", "apiVersion": res.group_version,
                "metadata": {"resourceVersion": rv, "continue": str(start + limit) if more else ""},
                "items": page}

    def _watch(self, res: Resource, namespace: str | None, query: dict[str, str]) -> None:
        api, selector = self.api, query.get("labelSelector", "")
        deadline = time.monotonic() + float(query.get("timeoutSeconds") or 3600)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with api._lock:
            if query.get("resourceVersion"):
                since = int(query["resourceVersion"])
                pending: list[tuple[int, str, Obj]] = []
            else:  # no version: the current state as ADDED, then changes
                since = api.resource_version
                pending = [(since, "ADDED", o) for o in api.list(res, namespace, selector)]
        try:
            while not api._stopping and time.monotonic() < deadline:
                for rv, kind, obj in pending:
                    self._chunk(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
                    since = max(since, rv)
                with api._lock:
                    pending = api.events_since(res, namespace, since, selector)
                    if not pending:
                        api._lock.wait(timeout=0.5)
                        pending = api.events_since(res, namespace, since, selector)
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            return

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")
