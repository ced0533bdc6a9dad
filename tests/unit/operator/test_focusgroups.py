"""FocusConfig groups: keys, names and the generated ExporterScraperConfig (operator-focus's rules,
with valid and unique names where Krateo's would clash or be invalid)."""

from __future__ import annotations

import copy
from typing import Any

from fixtures.krateo_focus import FOCUS_E2E_1, docs
from focusflow.operator.focusgroups import (
    EXPORTER_ONLY,
    esc_names,
    group_key,
    krateo_name,
    list_path,
    render_focus_groups,
)
from focusflow.operator.names import is_dns_label


def _member(name: str, table: str | None, db: str = "db", polling: str = "1h") -> dict[str, Any]:
    doc = copy.deepcopy(docs(FOCUS_E2E_1)[0])
    doc["metadata"] = {"name": name, "namespace": "ns", "uid": f"uid-{name}"}
    if table is None:
        doc["spec"].pop("scraperConfig")
    else:
        doc["spec"]["scraperConfig"].update(
            tableName=table, pollingInterval=polling,
            scraperDatabaseConfigRef={"name": db, "namespace": "dbs"})
    return doc


def test_keys_and_krateo_names() -> None:
    assert group_key(_member("a", "focus_export")) == "dbs..db..focus_export"
    assert group_key(_member("b", None)) == EXPORTER_ONLY
    assert krateo_name("dbs..db..focus_export") == "focus-export-exporter"
    assert krateo_name(EXPORTER_ONLY) == "all-cr-exporter"
    assert list_path("ns", "dbs..db..t") == ("/apis/finops.krateo.io/v1/namespaces/ns/"
                                             "focusconfigs?fieldSelector=status.groupKey="
                                             "dbs..db..t&limit=500")


def test_clashing_or_invalid_krateo_names_become_unique_valid_ones() -> None:
    keys = ["dbs..one..costs", "dbs..two..costs", "dbs..db..Hardware", "dbs..db..other",
            "dbs..db.." + "x" * 60]
    named = esc_names(keys)
    assert named["dbs..db..other"] == "other-exporter"  # Krateo's where it works
    assert named["dbs..one..costs"] != named["dbs..two..costs"]  # Krateo gives both one name
    assert len(set(named.values())) == len(keys)
    for name in named.values():
        assert is_dns_label(name) and len(name) <= 44, name
    assert esc_names(reversed(keys)) == named  # stable


def test_group_polls_at_its_shortest_interval_and_is_owned_by_its_members() -> None:
    members = [_member("b", "t", polling="10m"), _member("a", "t", polling="90s"),
               _member("c", None)]
    rendered = dict(render_focus_groups("ns", members))
    esc = rendered["dbs..db..t"]
    assert esc["spec"]["exporterConfig"]["pollingInterval"] == "90s"
    assert esc["spec"]["scraperConfig"] == {
        "tableName": "t", "pollingInterval": "90s",
        "scraperDatabaseConfigRef": {"name": "db", "namespace": "dbs"}}
    assert [(o["name"], o["uid"]) for o in esc["metadata"]["ownerReferences"]] == [
        ("a", "uid-a"), ("b", "uid-b")]
    assert not any(o.get("controller") for o in esc["metadata"]["ownerReferences"])
    exporter_only = rendered[EXPORTER_ONLY]
    assert "scraperConfig" not in exporter_only["spec"]
    assert exporter_only["spec"]["exporterConfig"]["pollingInterval"] == "5m"


def test_members_being_deleted_leave_their_group() -> None:
    leaving = _member("a", "t")
    leaving["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    rendered = dict(render_focus_groups("ns", [leaving, _member("b", "t")]))
    assert [o["name"] for o in rendered["dbs..db..t"]["metadata"]["ownerReferences"]] == ["b"]
    assert render_focus_groups("ns", [leaving]) == []
