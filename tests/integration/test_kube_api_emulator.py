"""The Kubernetes API emulator keeps the documented API contracts the operator relies on."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulators.kube_api import KubeApiEmulator
from fixtures.krateo_examples import AZURE_FOCUS, load
from fixtures.krateo_focus import FOCUS_E2E_1, docs

pytestmark = pytest.mark.integration

ESC = "/apis/finops.krateo.io/v1/namespaces/ns/exporterscraperconfigs"
CM = "/api/v1/namespaces/ns/configmaps"


@pytest.fixture
def http(kube_api: KubeApiEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=kube_api.url, timeout=10,
                      headers={"Authorization": f"Bearer {kube_api.token}"}) as client:
        namespace = {"metadata": {"name": "ns"}}
        assert client.post("/api/v1/namespaces", json=namespace).status_code == 201
        yield client


def _cm(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **extra},
            "data": {"k": "v"}}


def test_requests_without_the_token_are_unauthorized(kube_api: KubeApiEmulator) -> None:
    assert httpx.get(f"{kube_api.url}/api/v1/namespaces").status_code == 401


def test_discovery_lists_crds_with_status_subresource(http: httpx.Client) -> None:
    groups = {g["name"] for g in http.get("/apis").json()["groups"]}
    assert {"finops.krateo.io", "focusflow.dev", "apps"} <= groups
    names = {r["name"] for r in http.get("/apis/finops.krateo.io/v1").json()["resources"]}
    assert {"exporterscraperconfigs", "exporterscraperconfigs/status",
            "databaseconfigs"} <= names
    assert "databaseconfigs/status" not in names


def test_stale_resource_version_conflicts(http: httpx.Client) -> None:
    created = http.post(CM, json=_cm("a")).json()
    stale = created["metadata"]["resourceVersion"]
    updated = {**created, "data": {"k": "w"}}
    assert http.put(f"{CM}/a", json=updated).status_code == 200
    again = {**created, "data": {"k": "x"}}
    assert again["metadata"]["resourceVersion"] == stale
    response = http.put(f"{CM}/a", json=again)
    assert response.status_code == 409 and response.json()["reason"] == "Conflict"
    assert http.post(CM, json=_cm("a")).json()["reason"] == "AlreadyExists"


def test_json_patch_test_op_and_merge_patch(http: httpx.Client) -> None:
    created = http.post(CM, json=_cm("p")).json()
    rv = created["metadata"]["resourceVersion"]
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": "0"},
           {"op": "add", "path": "/data/x", "value": "1"}]
    bad = http.patch(f"{CM}/p", content=json.dumps(ops),
                     headers={"Content-Type": "application/json-patch+json"})
    assert bad.status_code == 422
    ops[0]["value"] = rv
    good = http.patch(f"{CM}/p", content=json.dumps(ops),
                      headers={"Content-Type": "application/json-patch+json"})
    assert good.json()["data"] == {"k": "v", "x": "1"}
    merged = http.patch(f"{CM}/p", content=json.dumps({"data": {"k": None}}),
                        headers={"Content-Type": "application/merge-patch+json"})
    assert merged.json()["data"] == {"x": "1"}


def test_no_op_write_keeps_the_resource_version(http: httpx.Client) -> None:
    created = http.post(CM, json=_cm("n")).json()
    same = http.patch(f"{CM}/n", content=json.dumps({"data": {"k": "v"}}),
                      headers={"Content-Type": "application/merge-patch+json"}).json()
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_status_subresource_is_separate_from_the_spec(http: httpx.Client) -> None:
    doc = load(AZURE_FOCUS)
    doc["metadata"]["namespace"] = "ns"
    created = http.post(ESC, json=doc).json()
    assert "status" not in created  # status is dropped on create through the main endpoint
    patch = {"status": {"conditions": [{"type": "Ready", "status": "True"}]},
             "spec": {"exporterConfig": {"pollingInterval": "5m"}}}
    after = http.patch(f"{ESC}/azure-focus/status", content=json.dumps(patch),
                       headers={"Content-Type": "application/merge-patch+json"}).json()
    assert after["status"]["conditions"][0]["status"] == "True"
    assert after["spec"]["exporterConfig"]["pollingInterval"] == "1h"
    assert after["metadata"]["generation"] == 1


def test_crd_schema_prunes_defaults_and_rejects(http: httpx.Client) -> None:
    doc = load(AZURE_FOCUS)
    doc["metadata"]["namespace"] = "ns"
    doc["spec"]["unknownField"] = 1
    doc["spec"]["exporterConfig"].pop("metricType")
    created = http.post(ESC, json=doc).json()
    assert "unknownField" not in created["spec"]
    assert created["spec"]["exporterConfig"]["metricType"] == "cost"
    doc["metadata"]["name"] = "bad"
    doc["spec"]["exporterConfig"]["metricType"] = "nope"
    response = http.post(ESC, json=doc)
    assert response.status_code == 422 and "metricType" in response.json()["message"]


def test_cascading_delete_and_finalizers(http: httpx.Client, kube_api: KubeApiEmulator) -> None:
    owner = http.post(CM, json=_cm("owner")).json()
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
           "uid": owner["metadata"]["uid"], "controller": True}
    http.post(CM, json=_cm("child", ownerReferences=[ref]))
    grandchild_ref = {**ref, "name": "child",
                      "uid": http.get(f"{CM}/child").json()["metadata"]["uid"]}
    http.post(CM, json=_cm("grandchild", ownerReferences=[grandchild_ref],
                           finalizers=["example.com/hold"]))
    assert http.delete(f"{CM}/owner").status_code == 200
    assert http.get(f"{CM}/child").status_code == 404
    held = http.get(f"{CM}/grandchild").json()
    assert held["metadata"]["deletionTimestamp"]  # kept until its finalizer is removed
    http.patch(f"{CM}/grandchild", content=json.dumps({"metadata": {"finalizers": None}}),
               headers={"Content-Type": "application/merge-patch+json"})
    assert http.get(f"{CM}/grandchild").status_code == 404


def test_watch_streams_changes_after_a_resource_version(http: httpx.Client,
                                                        kube_api: KubeApiEmulator) -> None:
    first = http.post(CM, json=_cm("w1")).json()
    events: list[dict[str, Any]] = []
    url = f"{CM}?watch=true&resourceVersion={first['metadata']['resourceVersion']}"

    def watch() -> None:
        with http.stream("GET", url) as response:
            for line in response.iter_lines():
                events.append(json.loads(line))
                if len(events) == 2:
                    return

    thread = threading.Thread(target=watch)
    thread.start()
    http.post(CM, json=_cm("w2"))
    http.delete(f"{CM}/w2")
    thread.join(timeout=10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w2"), ("DELETED", "w2")]


def test_list_pages_with_continue(http: httpx.Client) -> None:
    for i in range(5):
        http.post(CM, json=_cm(f"page-{i}"))
    names, token = [], ""
    while True:
        page = http.get(CM, params={"limit": 2, **({"continue": token} if token else {})}).json()
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"]["continue"]
        if not token:
            break
    assert names == [f"page-{i}" for i in range(5)]


FC = "/apis/finops.krateo.io/v1/namespaces/ns/focusconfigs"


def _focus_config(name: str) -> dict[str, Any]:
    doc = docs(FOCUS_E2E_1)[0]
    doc["metadata"] = {"name": name, "namespace": "ns"}
    return doc


def test_field_selector_on_selectable_fields_only(http: httpx.Client) -> None:
    for name in ("a", "b"):
        assert http.post(FC, json=_focus_config(name)).status_code == 201
    status = {"status": {"groupKey": "x..y..z"}}
    assert http.patch(f"{FC}/a/status", json=status,
                      headers={"Content-Type": "application/merge-patch+json"}).status_code == 200
    listed = http.get(FC, params={"fieldSelector": "status.groupKey=x..y..z"}).json()
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    named = http.get(FC, params={"fieldSelector": "metadata.name!=a"}).json()
    assert [i["metadata"]["name"] for i in named["items"]] == ["b"]
    refused = http.get(FC, params={"fieldSelector": "spec.focusSpec.billedCost=1"})
    assert refused.status_code == 400 and "field label not supported" in refused.text


def test_non_nullable_nulls_are_dropped_or_defaulted(http: httpx.Client) -> None:
    doc = load(AZURE_FOCUS)
    doc["metadata"]["namespace"] = "ns"
    doc["spec"]["exporterConfig"]["additionalVariables"]["gone"] = None
    doc["spec"]["exporterConfig"]["metricType"] = None
    stored = http.post(ESC, json=doc).json()
    assert "gone" not in stored["spec"]["exporterConfig"]["additionalVariables"]
    assert stored["spec"]["exporterConfig"]["metricType"] == "cost"


def test_forbidden_requests_answer_403(kube_api: KubeApiEmulator, http: httpx.Client) -> None:
    token = kube_api.add_user("someone")
    kube_api.forbidden.add(("someone", "GET", "configmaps", "ns"))
    response = http.get(CM, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.json()["reason"] == "Forbidden"
    assert http.get(CM).status_code == 200
