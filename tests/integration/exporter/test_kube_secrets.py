"""Secrets read from the Kubernetes API (the emulator in tests/emulators) with a token file."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from emulators.kube_api import KubeApiEmulator
from focusflow.errors import SourceError
from focusflow.runtime import KubernetesSecretStore
from focusflow.sources import Endpoint

pytestmark = pytest.mark.integration


def test_secret_store_reads_krateo_endpoint_secret(kube_api: KubeApiEmulator,
                                                   tmp_path: Path) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(kube_api.token)
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in {
        "server-url": "https://report.example.test", "token": "t0k"}.items()}
    kube_api.create(kube_api.by_kind("Namespace"), "", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "krateo-system"}})
    kube_api.create(kube_api.by_kind("Secret"), "krateo-system", {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "endpoint", "namespace": "krateo-system"}, "data": encoded})
    store = KubernetesSecretStore(server=kube_api.url, account=account)
    endpoint = Endpoint.from_secret(store.get("krateo-system", "endpoint"), where="s")
    assert endpoint.server_url == "https://report.example.test"
    assert endpoint.token is not None and endpoint.token.get_secret_value() == "t0k"
    assert kube_api.requests[-1][1:] == ("GET",
                                         "/api/v1/namespaces/krateo-system/secrets/endpoint")
    with pytest.raises(SourceError, match="HTTP 404"):
        store.get("krateo-system", "missing")
