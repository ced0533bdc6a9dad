"""A small Kubernetes API client for the apply step (operator layer).

httpx against the REST API with the same credentials kopf logs in with (in-cluster service
account, else the kubeconfig's current context). Children are written with server-side apply
(``PATCH`` ``application/apply-patch+yaml``, field manager ``focusflow-operator``, forced), which
is idempotent: applying an unchanged manifest changes nothing and rolls nothing. HTTP and
network failures are wrapped into :class:`ApiError` / :class:`TransientApiError` here and never
escape this module as httpx exceptions. Tokens are held as ``SecretStr`` and never logged.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import ssl
import tempfile
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from pydantic import SecretStr

from focusflow.errors import FocusflowError, TransientError

log = logging.getLogger(__name__)

FIELD_MANAGER = "focusflow-operator"
Manifest = dict[str, Any]

# kind -> (API prefix, plural): every kind the operator reads or writes.
RESOURCES: dict[str, tuple[str, str]] = {
    "ConfigMap": ("/api/v1", "configmaps"),
    "Secret": ("/api/v1", "secrets"),
    "Service": ("/api/v1", "services"),
    "ServiceAccount": ("/api/v1", "serviceaccounts"),
    "Event": ("/api/v1", "events"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "CronJob": ("/apis/batch/v1", "cronjobs"),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings"),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies"),
    "ExporterScraperConfig": ("/apis/finops.krateo.io/v1", "exporterscraperconfigs"),
    "ScraperConfig": ("/apis/finops.krateo.io/v1", "scraperconfigs"),
    "DatabaseConfig": ("/apis/finops.krateo.io/v1", "databaseconfigs"),
    "FocusConfig": ("/apis/finops.krateo.io/v1", "focusconfigs"),
    "PrometheusExport": ("/apis/focusflow.dev/v1alpha1", "prometheusexports"),
}


class ApiError(FocusflowError):
    """The Kubernetes API refused a request; ``status`` is the HTTP code (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class TransientApiError(ApiError, TransientError):
    """The API may accept the same request later (network error, 409, 429, 5xx)."""


def object_path(kind: str, namespace: str, name: str | None = None,
                subresource: str | None = None) -> str:
    prefix, plural = RESOURCES[kind]
    path = f"{prefix}/namespaces/{quote(namespace)}/{plural}"
    if name is not None:
        path += f"/{quote(name)}"
    if subresource is not None:
        path += f"/{subresource}"
    return path


class KubeClient:
    """Synchronous API client; one per operator process, shared by handler threads."""

    def __init__(self, server: str, *, token: SecretStr | None = None,
                 verify: ssl.SSLContext | bool = True,
                 cert: tuple[str, str] | None = None, timeout: float = 30.0) -> None:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        self._http = httpx.Client(base_url=server.rstrip("/"), headers=headers, verify=verify,
                                  cert=cert, timeout=timeout)
        self._temporary: list[str] = []

    @classmethod
    def from_environment(cls) -> KubeClient:
        """Credentials as kopf finds them: service account first, then the kubeconfig."""
        import kopf  # noqa: PLC0415  (the k8s extra: only needed when talking to a cluster)

        settings = kopf.OperatorSettings()
        info = (kopf.login_with_service_account(settings=settings)
                or kopf.login_with_kubeconfig(settings=settings))
        if info is None:
            raise ApiError("no Kubernetes credentials: neither an in-cluster service account "
                           "nor a kubeconfig (KUBECONFIG or ~/.kube/config) was found")
        cert = _client_cert(info)
        client = cls(info.server, token=SecretStr(info.token) if info.token else None,
                     verify=_verify(info), cert=cert)
        if cert and info.certificate_data:
            client._temporary = list(cert)
        return client

    def close(self) -> None:
        self._http.close()
        for path in self._temporary:  # client certificate/key written from kubeconfig data
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TransientApiError(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 400 and response.status_code != 404:
            message = _api_message(response)
            error = (TransientApiError if response.status_code in {409, 429}
                     or response.status_code >= 500 else ApiError)
            raise error(f"{method} {path}: {response.status_code} {message}",
                        response.status_code)
        return response

    def get(self, kind: str, namespace: str, name: str) -> Manifest | None:
        """The object, or None when it does not exist."""
        response = self._request("GET", object_path(kind, namespace, name))
        return None if response.status_code == 404 else _json(response)

    def list(self, kind: str, namespace: str | None = None) -> list[Manifest]:
        """Every object of ``kind`` (cluster-wide without ``namespace``), following pages (R9)."""
        prefix, plural = RESOURCES[kind]
        path = (object_path(kind, namespace) if namespace else f"{prefix}/{plural}")
        items: list[Manifest] = []
        token = ""
        while True:
            params = {"limit": "500", **({"continue": token} if token else {})}
            page = _json(self._request("GET", path, params=params))
            items += page.get("items") or []
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    def apply(self, manifest: Manifest) -> Manifest:
        """Server-side apply ``manifest`` (create or update the fields it names)."""
        meta = manifest["metadata"]
        path = object_path(manifest["kind"], meta["namespace"], meta["name"])
        response = self._request(
            "PATCH", path, content=orjson.dumps(manifest),
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
            headers={"Content-Type": "application/apply-patch+yaml"})
        if response.status_code == 404:
            raise ApiError(f"PATCH {path}: 404 (namespace or resource type missing)", 404)
        return _json(response)

    def patch_status(self, kind: str, namespace: str, name: str, status: Manifest) -> None:
        """Merge-patch the status subresource; a vanished object is not an error."""
        self._request("PATCH", object_path(kind, namespace, name, "status"),
                      content=orjson.dumps({"status": status}),
                      headers={"Content-Type": "application/merge-patch+json"})


def _json(response: httpx.Response) -> Manifest:
    data = orjson.loads(response.content)
    if not isinstance(data, dict):
        raise ApiError(f"unexpected API answer: {type(data).__name__}")
    return data


def _api_message(response: httpx.Response) -> str:
    try:
        return str(orjson.loads(response.content).get("message", ""))[:500]
    except (orjson.JSONDecodeError, AttributeError):
        return response.reason_phrase


def _verify(info: Any) -> ssl.SSLContext | bool:
    if info.insecure:
        return False
    if info.ca_path:
        return ssl.create_default_context(cafile=os.fsdecode(info.ca_path))
    if info.ca_data:
        data = info.ca_data if isinstance(info.ca_data, bytes) else info.ca_data.encode()
        return ssl.create_default_context(cadata=base64.b64decode(data).decode())
    return True


def _client_cert(info: Any) -> tuple[str, str] | None:
    cert, key = info.certificate_path, info.private_key_path
    # httpx wants files: write inline kubeconfig data to private temporary files.
    if info.certificate_data and info.private_key_data:
        cert, key = _private_file(info.certificate_data), _private_file(info.private_key_data)
    if cert and key:
        return os.fsdecode(cert), os.fsdecode(key)
    return None


def _private_file(data: str | bytes) -> str:
    raw = data if isinstance(data, bytes) else data.encode()
    fd, path = tempfile.mkstemp(prefix="focusflow-kube-")
    with os.fdopen(fd, "wb") as handle:  # mkstemp creates it 0600
        handle.write(base64.b64decode(raw))
    return path
