"""In-cluster Kubernetes access, kept small: read one Secret, and Krateo's default endpoint.

Layer: ``runtime``. A pod's service-account token and CA (mounted at
``/var/run/secrets/kubernetes.io/serviceaccount``) authenticate ``GET
/api/v1/namespaces/<ns>/secrets/<name>``; Secret values arrive base64-encoded and are returned
as ``SecretStr``. Krateo's exporter without ``endpointRef`` calls the Kubernetes API itself
with the same token (``in_cluster_endpoint``).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path

import httpx
from pydantic import SecretStr

from focusflow import redaction
from focusflow.errors import ConfigError, SourceError, TransientSourceError
from focusflow.sources import (
    DirectorySecretStore,
    Endpoint,
    EndpointResolver,
    SecretStore,
    secret_endpoints,
)

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def _api_server() -> str:
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ConfigError("not running in Kubernetes (KUBERNETES_SERVICE_HOST is unset): "
                          "pass --secrets-dir DIR")
    return f"https://{host}:{port}"


def _token(account: Path) -> SecretStr:
    try:
        return SecretStr((account / "token").read_text().strip())
    except OSError as exc:
        raise ConfigError(f"service-account token {account / 'token'} unreadable") from exc


class KubernetesSecretStore:
    """Reads Secrets through the Kubernetes API with the pod's service account."""

    def __init__(self, server: str | None = None, account: Path = SERVICE_ACCOUNT) -> None:
        self.server = server or _api_server()
        self.account = account

    def get(self, namespace: str, name: str) -> Mapping[str, SecretStr]:
        ca = self.account / "ca.crt"
        verify: str | bool = str(ca) if ca.exists() else True
        # The token is re-read each time: kubelet rotates projected tokens.
        headers = {"Authorization": f"Bearer {_token(self.account).get_secret_value()}"}
        url = f"{self.server}/api/v1/namespaces/{namespace}/secrets/{name}"
        try:
            response = httpx.get(url, headers=headers, verify=verify, timeout=30.0)
        except httpx.HTTPError as exc:
            raise TransientSourceError(f"secret {namespace}/{name}: {type(exc).__name__}") \
                from exc
        if response.status_code != 200:
            error = TransientSourceError if response.status_code >= 500 else SourceError
            raise error(f"secret {namespace}/{name}: HTTP {response.status_code}")
        data = response.json().get("data") or {}
        try:
            values = {key: SecretStr(base64.b64decode(value).decode("utf-8"))
                      for key, value in data.items()}
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise SourceError(f"secret {namespace}/{name}: a value is not base64 text") from exc
        redaction.remember(*values.values())
        return values


def in_cluster_endpoint(account: Path = SERVICE_ACCOUNT) -> Endpoint:
    """Krateo's default endpoint: the Kubernetes API with the pod's token (CA verified)."""
    ca = account / "ca.crt"
    ca_data = base64.b64encode(ca.read_bytes()).decode() if ca.exists() else None
    secret = {"server-url": SecretStr(_api_server()), "token": _token(account)}
    if ca_data:
        secret["certificate-authority-data"] = SecretStr(ca_data)
    return Endpoint.from_secret(secret, where="in-cluster endpoint")


def secret_store_for(secrets_dir: Path | None) -> SecretStore | None:
    """``--secrets-dir`` if given, else the Kubernetes API when in a pod, else none."""
    if secrets_dir is not None:
        return DirectorySecretStore(secrets_dir)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return KubernetesSecretStore()
    return None


def endpoint_resolver(secrets_dir: Path | None) -> EndpointResolver:
    """Endpoint Secrets from ``secret_store_for``; no ``endpointRef`` ⇒ the in-cluster API."""
    in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    return secret_endpoints(secret_store_for(secrets_dir),
                            in_cluster_endpoint if in_cluster else None)
