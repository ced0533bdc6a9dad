"""Secrets referenced from another namespace: copied next to the pod, kept in step, owned.

The operator's reconcile step (``focusflow.operator.reconcile``) against the Kubernetes API
emulator, with Krateo's README example (an ExporterScraperConfig in ``krateo-system`` whose
endpoint Secret lives in ``prom-system``) and operator-scraper's e2e DatabaseConfig (password
Secret in ``krateo-system``, pod in ``finops-test``).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from emulators.kube_api import KubeApiEmulator
from fixtures.krateo_focus import KRATEO, docs
from fixtures.kube_api import load_crds
from focusflow.operator import OperatorSettings
from focusflow.operator.kube import KubeClient
from focusflow.operator.reconcile import reconcile

pytestmark = pytest.mark.integration
SETTINGS = OperatorSettings()
PROMETHEUS_URL = "http://prometheus.monitoring.svc:9090"
ROTATED_TOKEN = "r0tated-t0ken-value"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def api() -> Iterator[KubeApiEmulator]:
    emulator = KubeApiEmulator(load_crds())
    emulator.start()
    for ns in ("krateo-system", "prom-system", "finops-test"):
        emulator.create(emulator.resource("", "v1", "namespaces"), "", {"metadata": {"name": ns}})
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def clients(api: KubeApiEmulator) -> Iterator[list[KubeClient]]:
    """KubeClients made by a test, closed at its end."""
    made: list[KubeClient] = []
    yield made
    for client in made:
        client.close()


def _client(clients: list[KubeClient], api: KubeApiEmulator, token: str) -> KubeClient:
    clients.append(KubeClient(api.url, token=SecretStr(token)))
    return clients[-1]


def _create(api: KubeApiEmulator, doc: dict[str, Any]) -> dict[str, Any]:
    res = api.by_kind(doc["kind"])
    return api.create(res, doc["metadata"]["namespace"], doc)


def _readme_example(api: KubeApiEmulator) -> dict[str, Any]:
    esc, secret = docs(KRATEO / "operator-exporter_readme_generic_prometheus.yaml")
    # As the API server stores it: data, base64 (never stringData).
    secret["data"] = {"server-url": _b64(PROMETHEUS_URL)}
    del secret["stringData"]
    _create(api, secret)
    return _create(api, esc)


def test_endpoint_secret_of_another_namespace_is_copied_kept_in_step_and_owned(
        api: KubeApiEmulator, clients: list[KubeClient],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = _client(clients, api, api.token)
    esc = _readme_example(api)
    assert reconcile(client, SETTINGS, esc).error is None
    (copy_,) = [o for o in api.all_in("krateo-system") if o["kind"] == "Secret"
                and "focusflow.dev/copy-of" in o["metadata"].get("annotations", {})]
    assert copy_["data"] == {"server-url": _b64(PROMETHEUS_URL)}
    assert copy_["metadata"]["ownerReferences"][0]["uid"] == esc["metadata"]["uid"]
    # Rotation: the original changes, the next reconcile (resync or any event) copies it.
    secret = api.find("Secret", "prom-system", "promethes-endpoint")
    assert secret is not None
    secret["data"]["token"] = _b64(ROTATED_TOKEN)
    api.update(api.by_kind("Secret"), "prom-system", "promethes-endpoint", secret)
    assert reconcile(client, SETTINGS, api.find("ExporterScraperConfig", "krateo-system",
                                                esc["metadata"]["name"]) or {}).error is None
    copied = api.find("Secret", "krateo-system", copy_["metadata"]["name"])
    assert copied is not None and copied["data"]["token"] == _b64(ROTATED_TOKEN)
    # No value anywhere but in Secrets: ConfigMaps, statuses, events, the operator's log.
    for obj in api.all_in("krateo-system"):
        if obj["kind"] != "Secret":
            text = json.dumps(obj)
            for value in (ROTATED_TOKEN, _b64(ROTATED_TOKEN), PROMETHEUS_URL):
                assert value not in text, obj["kind"]
    assert ROTATED_TOKEN not in caplog.text and _b64(ROTATED_TOKEN) not in caplog.text
    # Deleting the CR deletes the copy (garbage collection through the owner reference).
    api.delete(api.by_kind("ExporterScraperConfig"), "krateo-system", esc["metadata"]["name"])
    assert api.find("Secret", "krateo-system", copy_["metadata"]["name"]) is None
    assert api.find("Secret", "prom-system", "promethes-endpoint") is not None


def test_unreadable_namespace_says_which_role_to_bind(api: KubeApiEmulator,
                                                      clients: list[KubeClient]) -> None:
    user = "operator"
    token = api.add_user(user)
    api.forbidden.add((user, "GET", "secrets", "prom-system"))
    client = _client(clients, api, token)
    esc = _readme_example(api)
    outcome = reconcile(client, SETTINGS, esc)
    assert outcome.reason == "InvalidSpec"
    assert outcome.error is not None
    assert "bind the ClusterRole focusflow-operator-secret-reader" in outcome.error
    assert "'prom-system'" in outcome.error
    stored = api.find("ExporterScraperConfig", "krateo-system", esc["metadata"]["name"])
    assert stored is not None
    (condition,) = stored["status"]["conditions"]
    assert condition["status"] == "False"


def test_missing_original_is_a_condition(api: KubeApiEmulator,
                                         clients: list[KubeClient]) -> None:
    client = _client(clients, api, api.token)
    esc, _ = docs(KRATEO / "operator-exporter_readme_generic_prometheus.yaml")
    stored = _create(api, esc)
    outcome = reconcile(client, SETTINGS, stored)
    assert outcome.error is not None
    assert "Secret prom-system/promethes-endpoint (copied to krateo-system/" in outcome.error
    assert "not found" in outcome.error
