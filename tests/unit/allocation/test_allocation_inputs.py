"""Node-to-billing matching, the price sheet file, settings validation and row shaping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from focusflow.allocation import (
    IDLE,
    SCHEMA,
    NodeHour,
    allocation_settings,
    load_default_prices,
    prometheus_settings,
)
from focusflow.allocation.billing import BillingIndex, ChargeGroup
from focusflow.allocation.matching import billing_keys, node_keys
from focusflow.allocation.model import Shares
from focusflow.allocation.rows import ChunkRows, PricedNodeHour, chunk_rows, with_controllers
from focusflow.cli.allocate import ENDPOINT_FLAGS, FLAGS
from focusflow.errors import ConfigError

ARM = ("/subscriptions/S1/resourceGroups/MC_rg/providers/Microsoft.Compute/"
       "virtualMachineScaleSets/aks-pool-1")


@pytest.mark.parametrize(("provider_id", "resource_id"), [
    ("aws:///us-east-1a/i-0abc123", "i-0abc123"),
    ("aws:///us-east-1a/i-0abc123", "arn:aws:ec2:us-east-1:123456789012:instance/i-0ABC123"),
    ("azure://" + ARM + "/virtualMachines/3", ARM.lower()),  # billed per scale set
    ("azure://" + ARM + "/virtualMachines/3", ARM + "/virtualMachines/3"),
    ("azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v",
     "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/V"),
    ("gce://proj/us-central1-a/gke-node-1",
     "//compute.googleapis.com/projects/proj/zones/us-central1-a/instances/gke-node-1"),
    ("gce://proj/us-central1-a/gke-node-1", "gke-node-1"),
])
def test_provider_ids_match_billing_resource_ids(provider_id: str, resource_id: str) -> None:
    assert set(node_keys(provider_id, "n")) & set(billing_keys(resource_id))


def test_different_instances_do_not_match() -> None:
    assert not set(node_keys("aws:///z/i-1", "n")) & set(billing_keys("i-10"))
    assert node_keys("", "Node-A") == ["node-a"]


def test_vmss_instance_prefers_its_own_row_then_the_scale_set() -> None:
    own = ChargeGroup(ARM + "/virtualMachines/3", 0, 86400, Decimal(1), "USD")
    scale_set = ChargeGroup(ARM, 0, 86400, Decimal(5), "USD")
    index = BillingIndex.build([own, scale_set])
    assert index.match("azure://" + ARM + "/virtualMachines/3", "n") == [own]
    assert index.match("azure://" + ARM + "/virtualMachines/4", "n") == [scale_set]


def test_price_sheet_file(tmp_path: Path) -> None:
    sheet = tmp_path / "prices.json"
    sheet.write_text(json.dumps({"CPU": "0.04", "RAM": 0.005, "GPU": "2", "storage": "1"}))
    prices = load_default_prices(str(sheet))
    assert (prices.cpu, prices.ram, prices.gpu) == (Decimal("0.04"), Decimal("0.005"),
                                                    Decimal("2"))
    assert load_default_prices(None).cpu == Decimal("0.031611")
    sheet.write_text(json.dumps({"CPU": "-1"}))
    with pytest.raises(ConfigError, match=r"--default-prices .*CPU"):
        load_default_prices(str(sheet))


@pytest.mark.parametrize(("values", "message"), [
    ({"end": datetime(2025, 10, 31, tzinfo=UTC)}, "must be after start"),
    ({"start": datetime(2025, 11, 1, 0, 30, tzinfo=UTC)}, "start: expected a whole UTC hour"),
    ({"resolution_seconds": 7}, "resolution_seconds: expected seconds that divide 3600"),
    ({"cluster_label": "a-b"}, "cluster_label: expected a Prometheus label name"),
    ({"end": datetime(2026, 6, 1, tzinfo=UTC)}, "expected at most 2232"),
    ({"by": "team"}, "by: "),
])
def test_bad_settings_name_the_field(values: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"start": datetime(2025, 11, 1, tzinfo=UTC),
                               "end": datetime(2025, 11, 2, tzinfo=UTC)}
    with pytest.raises(ConfigError, match=message):
        allocation_settings(**{**base, **values})


def _chunk(node: NodeHour, by: str, pods: list[str], costs: list[str],
           idle_cost: str) -> list[dict[str, object]]:
    """``chunk_rows`` of one node-hour whose containers (namespace ``shop``, container ``app``)
    are charged ``costs`` for CPU and as much for RAM, with 1 core-hour and 2 byte-hours each."""
    placed = pa.table({"nh": [0] * len(pods), "namespace": ["shop"] * len(pods), "pod": pods,
                       "container": ["app"] * len(pods), "controller": ["web"] * len(pods),
                       "controller_kind": ["Deployment"] * len(pods)})
    charged = [Decimal(c) for c in costs]
    shares = Shares(([D1] * len(pods), [Decimal(2)] * len(pods), [D0] * len(pods)),
                    (charged, charged, [D0] * len(pods)),
                    (D1, Decimal(2), D0), (Decimal(idle_cost), Decimal(idle_cost), D0))
    with duckdb.connect() as con:
        table = chunk_rows(con, placed, [PricedNodeHour(node, "i-1", "EUR", "default", shares)],
                           by)  # type: ignore[arg-type]
    assert table.schema == SCHEMA
    return table.to_pylist()


D0, D1 = Decimal(0), Decimal(1)
NODE = NodeHour("prod", "n1", "aws:///z/i-1", int(datetime(2025, 10, 31, 23,
                                                           tzinfo=UTC).timestamp()),
                D1, Decimal(4), Decimal(8))


def test_aggregation_by_namespace_keeps_idle_apart() -> None:
    by_ns = _chunk(NODE, "namespace", ["p1", "p2"], ["1", "2"], "4")
    assert [(r["x_Namespace"], r["x_Pod"], r["BilledCost"], r["x_CpuCoreHours"])
            for r in by_ns] == [("shop", None, Decimal(6), Decimal(2)),
                                (IDLE, None, Decimal(8), D1)]
    assert len(_chunk(NODE, "container", ["p1", "p2"], ["1", "2"], "4")) == 3


def test_rows_are_focus_shaped() -> None:
    row, idle = _chunk(NODE, "pod", ["p1"], ["1"], "0.5")
    assert row["ChargePeriodStart"] == datetime(2025, 10, 31, 23, tzinfo=UTC)
    assert row["ChargePeriodEnd"] == datetime(2025, 11, 1, tzinfo=UTC)
    assert row["BillingPeriodStart"] == datetime(2025, 10, 1, tzinfo=UTC)
    assert row["BillingPeriodEnd"] == datetime(2025, 11, 1, tzinfo=UTC)
    assert (row["BilledCost"], row["EffectiveCost"], row["BillingCurrency"]) == (
        Decimal(2), Decimal(2), "EUR")
    assert (row["ServiceName"], row["ChargeCategory"], row["ResourceId"]) == (
        "Kubernetes", "Usage", "i-1")
    assert row["ChargeDescription"] == "Kubernetes allocation by pod"
    assert (idle["x_Namespace"], idle["ChargeDescription"], idle["BilledCost"]) == (
        IDLE, "Idle capacity of node n1", D1)
    assert (row["x_Cluster"], row["x_Node"], row["x_Namespace"], row["x_Pod"],
            row["x_Container"], row["x_PriceSource"]) == ("prod", "n1", "shop", "p1", None,
                                                          "default")


def test_rows_are_the_same_whatever_the_flush_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Charges become Arrow every ``FLUSH_ROWS`` rows (checked after each node-hour): flushes
    after every node-hour, some or none give the same table, in node-hour order."""
    counts = (2, 0, 3)  # containers of three node-hours
    placed = pa.table({"nh": [nh for nh, n in enumerate(counts) for _ in range(n)],
                       "namespace": ["shop"] * 5, "pod": [f"p{i}" for i in range(5)],
                       "container": ["app"] * 5, "controller": ["web"] * 5,
                       "controller_kind": ["Deployment"] * 5})
    priced = []
    for nh, n in enumerate(counts):
        charged = [Decimal(f"{nh}.{i}") for i in range(n)]
        shares = Shares((charged, charged, [D0] * n), (charged, charged, [D0] * n),
                        (D1, D1, D0), (Decimal(nh), D1, D0))
        node = NodeHour("prod", f"n{nh}", "", NODE.hour, D1, Decimal(4), Decimal(8))
        priced.append(PricedNodeHour(node, f"i-{nh}", "EUR", "default", shares))

    def rows() -> list[dict[str, object]]:
        with duckdb.connect() as con:
            return chunk_rows(con, placed, priced, "container").to_pylist()

    whole = rows()
    for size in (1, 2, 3):
        monkeypatch.setattr(ChunkRows, "FLUSH_ROWS", size)
        assert rows() == whole
    assert [(row["x_Node"], row["x_Pod"], row["x_CpuCost"]) for row in whole] == [
        ("n0", "p0", Decimal("0.0")), ("n0", "p1", Decimal("0.1")), ("n0", None, D0),
        ("n1", None, D1), ("n2", "p2", Decimal("2.0")), ("n2", "p3", Decimal("2.1")),
        ("n2", "p4", Decimal("2.2")), ("n2", None, Decimal(2))]


def test_a_pod_without_a_controlling_owner_has_a_null_controller_never_an_empty_text() -> None:
    # Rows shaped before the owners arrive get their first container's controller; a pod
    # with no controlling owner (empty in the owners' join) and an idle row (no first
    # container) both get NULL, as the shaping SQL's nullif gives rows by controller.
    shaped = pa.table({"x_Controller": pa.nulls(3, pa.string()),
                       "x_ControllerKind": pa.nulls(3, pa.string()),
                       "first": pa.array([1, 0, None], pa.int64())})
    controllers = pa.table({"controller": ["", "web"], "controller_kind": ["", "Deployment"]})
    rows = with_controllers(shaped, controllers)
    assert rows.column_names == ["x_Controller", "x_ControllerKind"]
    assert rows.to_pylist() == [{"x_Controller": "web", "x_ControllerKind": "Deployment"},
                                {"x_Controller": None, "x_ControllerKind": None},
                                {"x_Controller": None, "x_ControllerKind": None}]


def test_bad_settings_are_named_as_the_caller_names_them() -> None:
    # The CLI's messages named pydantic's fields (resolution_seconds) instead of its flags.
    with pytest.raises(ConfigError) as caught:
        allocation_settings(start=datetime(2025, 11, 1, tzinfo=UTC),
                            end=datetime(2025, 11, 2, tzinfo=UTC), resolution_seconds=7,
                            chunk_hours=0, labels=FLAGS)
    assert str(caught.value).startswith("invalid allocation settings: --resolution: expected "
                                        "seconds that divide 3600")
    assert "; --chunk-hours: " in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        prometheus_settings(prometheus_url="prometheus:9090", prometheus_ca_file=None,
                            labels=ENDPOINT_FLAGS)
    assert str(caught.value).startswith("invalid Prometheus endpoint: --prometheus: is not an "
                                        "http:// or https:// URL")
