"""The column catalogue: versions, levels, case-insensitive lookup and version detection."""

from __future__ import annotations

import csv

import pytest

from fixtures.paths import sample_files
from focusflow.focus import Dataset, DataType, Level, columns_for, detect_version, lookup
from focusflow.focus.catalogue import SERVICE_SUBCATEGORIES, detect_dataset


def test_lookup_is_case_insensitive_and_reports_the_canonical_name() -> None:
    column = lookup("  billedcost ")
    assert column is not None
    assert column.name == "BilledCost"
    assert column.data_type is DataType.DECIMAL
    assert not column.nullable


def test_levels_follow_the_spec_per_version() -> None:
    invoice = lookup("InvoiceId")
    assert invoice is not None
    assert invoice.level("1.1") is None
    assert invoice.level("1.2") is Level.RECOMMENDED
    assert lookup("CapacityReservationId").level("1.0") is None  # type: ignore[union-attr]
    mandatory_10 = {c.name for c in columns_for("1.0") if c.level("1.0") is Level.MANDATORY}
    assert {"BilledCost", "ChargePeriodStart", "ServiceName", "ProviderName"} <= mandatory_10
    assert "ServiceProviderName" not in mandatory_10
    assert lookup("ServiceProviderName").level("1.3") is Level.MANDATORY  # type: ignore[union-attr]


def test_allowed_values() -> None:
    category = lookup("ChargeCategory")
    assert category is not None
    assert category.allowed_values == {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
    assert "Other (Compute)" in SERVICE_SUBCATEGORIES["Compute"]


@pytest.mark.parametrize(
    ("header", "version"),
    [
        (["BilledCost", "ChargePeriodStart"], "1.0"),
        (["BilledCost", "SkuMeter"], "1.1"),
        (["billedcost", "INVOICEID"], "1.2"),
        (["BilledCost", "ServiceProviderName", "x_Custom"], "1.3"),
    ],
)
def test_detect_version(header: list[str], version: str) -> None:
    assert detect_version(header) == version


def test_contract_commitment_dataset_is_detected() -> None:
    header = ["ContractCommitmentId", "ContractId", "ContractCommitmentCost"]
    assert detect_dataset(header) is Dataset.CONTRACT_COMMITMENT
    assert detect_version(header) == "1.3"
    assert lookup("ContractCommitmentCost", Dataset.CONTRACT_COMMITMENT) is not None


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_sample_header_is_explained_by_the_catalogue(path: object) -> None:
    with open(path, encoding="utf-8-sig") as handle:  # type: ignore[call-overload]
        header = next(csv.reader(handle))
    dataset = detect_dataset(header)
    unknown = [h for h in header if lookup(h, dataset) is None and not h.startswith("x_")]
    assert unknown == []
