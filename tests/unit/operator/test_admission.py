"""``operator render`` stores a CR as the API server would (operator/admission.py).

Checked against the Kubernetes API emulator's implementation of the same apiextensions rules
(tests/emulators/crd_schema.py), on Krateo's own example CRs.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from emulators import crd_schema
from fixtures.krateo_focus import KRATEO, docs
from fixtures.kube_api import load_crds
from focusflow.operator.admission import admit

CRDS = {c["spec"]["names"]["kind"]: c for c in load_crds()}
CUSTOM = [d for path in sorted(KRATEO.glob("*.yaml")) for d in docs(path)
          if d["apiVersion"].startswith("finops.krateo.io/")]


@pytest.mark.parametrize("doc", CUSTOM, ids=[f"{d['kind']}/{d['metadata']['name']}"
                                             for d in CUSTOM])
def test_render_stores_krateo_crs_as_the_api_server_does(doc: dict[str, Any]) -> None:
    expected = crd_schema.admit(CRDS[doc["kind"]], "v1", copy.deepcopy(doc))
    expected.pop("status", None)  # the status subresource: not written by a create
    got = admit(doc)
    got.pop("status", None)
    assert got == expected


def test_nulls_are_dropped_or_defaulted_and_unknown_fields_pruned() -> None:
    esc = docs(KRATEO / "operator-exporter_e2e_to_test.yaml")[1]
    esc["spec"]["exporterConfig"]["additionalVariables"]["x"] = None  # not nullable: dropped
    esc["spec"]["exporterConfig"]["metricType"] = None  # not nullable, has a default: cost
    esc["spec"]["exporterConfig"]["api"]["method"] = "GET"  # not in the schema: pruned
    stored = admit(esc)["spec"]["exporterConfig"]
    assert "x" not in stored["additionalVariables"]
    assert stored["metricType"] == "cost"
    assert "method" not in stored["api"]
    assert esc["spec"]["exporterConfig"]["metricType"] is None  # the input is not changed


def test_kinds_without_a_crd_are_unchanged() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "stringData": {"k": None}}
    assert admit(secret) is secret
