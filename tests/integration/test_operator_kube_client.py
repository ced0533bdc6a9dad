"""The operator's API client (``focusflow.operator.kube``) against the emulator over HTTPS.

Credentials come from a kubeconfig exactly as in a real setup; TLS verification is on unless the
kubeconfig says otherwise, and transport or HTTP failures surface as focusflow errors only.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.kube_api import KubeApiEmulator
from fixtures import tlsca
from fixtures.kube_api import load_crds
from focusflow.operator import OperatorSettings
from focusflow.operator.kube import ApiError, KubeClient, TransientApiError
from focusflow.operator.reconcile import reconcile

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_api(tmp_path: Path) -> Iterator[tuple[KubeApiEmulator, tlsca.TestCa]]:
    ca = tlsca.make_test_ca(tmp_path / "ca")
    api = KubeApiEmulator(load_crds())
    api.start(tls=(str(ca.cert_file), str(ca.key_file)))
    api.create(api.resource("", "v1", "namespaces"), "", {"metadata": {"name": "ns"}})
    try:
        yield api, ca
    finally:
        api.stop()


def _client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str) -> KubeClient:
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    monkeypatch.setenv("KUBECONFIG", str(path))
    return KubeClient.from_environment()


def _config_map(name: str, value: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns"}, "data": {"k": value}}


def test_kubeconfig_ca_verifies_and_apply_is_idempotent(
        tls_api: tuple[KubeApiEmulator, tlsca.TestCa], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    api, ca = tls_api
    ca_data = base64.b64encode(ca.ca_file.read_bytes()).decode()
    client = _client(monkeypatch, tmp_path,
                     api.kubeconfig(**{"certificate-authority-data": ca_data}))
    try:
        assert client.get("ConfigMap", "ns", "c") is None
        first = client.apply(_config_map("c", "1"))
        again = client.apply(_config_map("c", "1"))
        assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        changed = client.apply(_config_map("c", "2"))
        assert changed["data"] == {"k": "2"}
        for i in range(3):
            client.apply(_config_map(f"page-{i}", "x"))
        assert len(client.list("ConfigMap", "ns")) == 4
    finally:
        client.close()


def test_unknown_ca_is_refused(tls_api: tuple[KubeApiEmulator, tlsca.TestCa], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    api, _ = tls_api
    client = _client(monkeypatch, tmp_path, api.kubeconfig())
    try:
        with pytest.raises(TransientApiError, match="ConnectError"):
            client.get("ConfigMap", "ns", "c")
    finally:
        client.close()


def test_insecure_skip_tls_verify_is_honoured(tls_api: tuple[KubeApiEmulator, tlsca.TestCa],
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    api, _ = tls_api
    client = _client(monkeypatch, tmp_path, api.kubeconfig(**{"insecure-skip-tls-verify": True}))
    try:
        assert client.get("ConfigMap", "ns", "absent") is None
    finally:
        client.close()


def test_rejections_are_permanent_and_name_the_request(
        tls_api: tuple[KubeApiEmulator, tlsca.TestCa], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    api, ca = tls_api
    ca_data = base64.b64encode(ca.ca_file.read_bytes()).decode()
    client = _client(monkeypatch, tmp_path,
                     api.kubeconfig(**{"certificate-authority-data": ca_data}))
    invalid = {"apiVersion": "finops.krateo.io/v1", "kind": "ScraperConfig",
               "metadata": {"name": "s", "namespace": "ns"}, "spec": {"tableName": "t"}}
    try:
        with pytest.raises(ApiError) as info:
            client.apply(invalid)
        assert not isinstance(info.value, TransientApiError)
        assert info.value.status == 422
        assert "scraperconfigs/s" in str(info.value) and "pollingInterval" in str(info.value)
    finally:
        client.close()
    bad_token = _client(monkeypatch, tmp_path, api.kubeconfig(
        "wrong-token", **{"certificate-authority-data": ca_data}))
    try:
        with pytest.raises(ApiError, match="401"):
            bad_token.get("ConfigMap", "ns", "c")
    finally:
        bad_token.close()


def test_reconcile_applies_nothing_to_an_object_being_deleted(
        tls_api: tuple[KubeApiEmulator, tlsca.TestCa], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    api, ca = tls_api
    ca_data = base64.b64encode(ca.ca_file.read_bytes()).decode()
    client = _client(monkeypatch, tmp_path,
                     api.kubeconfig(**{"certificate-authority-data": ca_data}))
    export = {"apiVersion": "focusflow.dev/v1alpha1", "kind": "PrometheusExport",
              "metadata": {"name": "p", "namespace": "ns", "finalizers": ["example.com/hold"]},
              "spec": {"clusterName": "c", "s3Bucket": "b"}}
    created = api.create(api.by_kind("PrometheusExport"), "ns", export)
    api.delete(api.by_kind("PrometheusExport"), "ns", "p")  # held by its finalizer
    deleting = api.find("PrometheusExport", "ns", "p")
    assert deleting is not None and deleting["metadata"]["deletionTimestamp"]
    try:
        outcome = reconcile(client, OperatorSettings(), deleting)
        assert outcome.changed == [] and outcome.error is None
        assert api.find("CronJob", "ns", "p-export") is None
        # The same object, not being deleted, gets its CronJob.
        created["metadata"].pop("deletionTimestamp", None)
        assert reconcile(client, OperatorSettings(), created).changed == [
            "ServiceAccount/p-export-sa", "CronJob/p-export"]
    finally:
        client.close()
