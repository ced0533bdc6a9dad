"""FOCUS 1.4 and its four datasets, on files the focus-data-toolkit package generates.

Version and dataset come from the header (CSV or typed Parquet); each dataset is validated
against its own columns; versions focusflow does not read are named as such; the vendored 1.4
Data Model is byte-identical to the one the package ships, with its provenance recorded.
"""

from __future__ import annotations

import csv
import hashlib
import json
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from focusflow.errors import ConfigError, InputError
from focusflow.focus import Dataset, FocusReader, Level, columns_for
from focusflow.focus.catalogue import detect_dataset, detect_version, identify_dataset, lookup
from focusflow.focus.datamodel import MODEL_FILE, model_columns, provenance
from focusflow.focus.validation import ValidateOptions, validate

KEYS = [f"{v}/{d}/{f}" for v, d in (("1.2", "CostAndUsage"), ("1.3", "CostAndUsage"),
                                     ("1.3", "ContractCommitment"))
        for f in ("csv", "parquet")]
KEYS += [f"1.4/{d.value}/{f}" for d in Dataset for f in ("csv", "parquet")]


def header_of(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        return pq.read_schema(path).names
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


@pytest.mark.parametrize("key", KEYS)
def test_version_and_dataset_come_from_the_header(
        toolkit_files: dict[str, Path], key: str) -> None:
    version, dataset, _ = key.split("/")
    path = toolkit_files[key]
    header = header_of(path)
    assert (detect_version(header), detect_dataset(header).value) == (version, dataset)
    with FocusReader(str(path)) as reader:  # refused before: "lacks FOCUS 1.3 mandatory ..."
        assert (reader.layout.version, reader.layout.dataset.value) == (version, dataset)
        rows = sum(batch.num_rows for batch in reader.batches())
    assert rows == (pq.read_metadata(path).num_rows if path.suffix == ".parquet"
                    else len(read_rows(path)) - 1)


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("dataset", list(Dataset))
def test_each_14_dataset_validates_against_its_own_columns(
        toolkit_files: dict[str, Path], dataset: Dataset) -> None:
    report = validate(str(toolkit_files[f"1.4/{dataset.value}/csv"]))
    assert (report.version, report.dataset) == ("1.4", dataset.value)
    assert report.failures == []
    mandatory = {r.column for r in report.results if r.rule_id == "columns.mandatory-present"}
    assert mandatory == {c.name for c in columns_for("1.4", dataset)
                         if c.level("1.4") is Level.MANDATORY}


def test_a_14_file_missing_a_dataset_column_is_reported_on_that_column(
        toolkit_files: dict[str, Path], tmp_path: Path) -> None:
    source = toolkit_files["1.4/InvoiceDetail/csv"]
    rows = read_rows(source)
    drop = rows[0].index("PaymentTerms")
    target = tmp_path / "invoice.csv"
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([r[:drop] + r[drop + 1:] for r in rows])
    report = validate(str(target))
    assert report.dataset == "InvoiceDetail"
    assert [(r.rule_id, r.column) for r in report.failures] == [
        ("columns.mandatory-present", "PaymentTerms")]
    with pytest.raises(InputError, match=r"lacks FOCUS 1\.4 Invoice Detail mandatory column"):
        FocusReader(str(target))


def test_a_14_percentage_outside_its_range_is_a_finding(
        toolkit_files: dict[str, Path], tmp_path: Path) -> None:
    table = pq.read_table(toolkit_files["1.4/ContractCommitment/parquet"]).to_pylist()
    with toolkit_files["1.4/ContractCommitment/csv"].open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(table)
    rows[1]["ContractCommitmentDiscountPercentage"] = "1.5"
    target = tmp_path / "cc.csv"
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    failed = [(r.rule_id, r.column, r.rows) for r in validate(str(target)).failures]
    assert failed == [("values.numeric-range", "ContractCommitmentDiscountPercentage", (2,))]


def test_a_focus_05_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text("BilledCost,BillingCurrency,ChargeType,Region,ChargePeriodStart\n"
                    "1,USD,Usage,eu-west-1,2023-01-01T00:00:00Z\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"is a FOCUS 0\.5 file .*ChargeType, Region.*not a "
                                         r"version focusflow supports \(it reads FOCUS 1\.0"):
        FocusReader(str(path))
    with pytest.raises(InputError, match=r"FOCUS 0\.5"):
        validate(str(path))


@pytest.mark.parametrize("version", ["0.5", "1.5", "2.0"])
def test_an_unsupported_version_flag_is_named_as_such(
        toolkit_files: dict[str, Path], version: str) -> None:
    path = str(toolkit_files["1.4/CostAndUsage/csv"])
    message = rf"FOCUS {version} is not a version focusflow supports"
    with pytest.raises(ConfigError, match=message):
        FocusReader(path, focus_version=version)
    with pytest.raises(ConfigError, match=message):
        validate(path, ValidateOptions(focus_version=version))


def test_14_levels_come_from_the_published_model() -> None:
    # 1.4 dropped ProviderName/PublisherName from Cost and Usage and added new datasets.
    provider = lookup("ProviderName")
    assert provider is not None and provider.level("1.3") is Level.MANDATORY
    assert provider.level("1.4") is None
    assert lookup("InvoiceId").level("1.4") is Level.CONDITIONAL  # type: ignore[union-attr]
    status = lookup("BillingPeriodStatus", Dataset.BILLING_PERIOD)
    assert status is not None and status.allowed_values == {"Open", "Closed"}
    counts = {d: len(columns_for("1.4", d)) for d in Dataset}
    assert counts == {Dataset.COST_AND_USAGE: 65, Dataset.CONTRACT_COMMITMENT: 30,
                      Dataset.INVOICE_DETAIL: 22, Dataset.BILLING_PERIOD: 6}
    assert counts == {Dataset(c.dataset): counts[Dataset(c.dataset)] for c in model_columns()}


def test_the_vendored_model_is_the_packages_with_its_provenance() -> None:
    vendored = resources.files("focusflow.focus").joinpath("data", MODEL_FILE).read_bytes()
    record = provenance()
    assert hashlib.sha256(vendored).hexdigest() == record["sha256"]
    assert record["license"] == "CC-BY-4.0"
    assert record["package"]["name"] == "focus-data-toolkit"
    shipped = resources.files("focus_data_toolkit").joinpath("model", MODEL_FILE).read_bytes()
    upstream = json.loads(resources.files("focus_data_toolkit").joinpath(
        "model", "model_provenance.json").read_bytes())
    assert upstream["output"]["sha256"] == record["sha256"]
    if shipped != vendored:  # a newer toolkit in the dev extra: say what to do
        pytest.fail("focus-data-toolkit ships a different FOCUS 1.4 model: re-vendor it "
                    "(src/focusflow/focus/data/SOURCE.md)")
    assert upstream["output"]["datasets"] == record["datasets"]


def test_typed_14_parquet_keeps_its_types(toolkit_files: dict[str, Path]) -> None:
    path = toolkit_files["1.4/InvoiceDetail/parquet"]
    with FocusReader(str(path)) as reader:
        table = pa.Table.from_batches(list(reader.batches()), schema=reader.schema)
    assert pa.types.is_timestamp(table.schema.field("InvoiceDetailCreated").type)
    assert pa.types.is_decimal(table.schema.field("BilledCost").type)
    assert table.num_rows == pq.read_metadata(path).num_rows
    # (typed values are judged by type in real-data's issue 14 item 2; the header is ours)
    report = validate(str(path))
    assert (report.version, report.dataset) == ("1.4", "InvoiceDetail")
    assert not [r for r in report.failures if r.rule_id == "columns.mandatory-present"]


def test_a_dataset_is_told_by_its_own_columns_only() -> None:
    assert identify_dataset(["x_Anything", "Name"]) is None  # not a FOCUS table
    assert detect_dataset(["x_Anything", "Name"]) is Dataset.COST_AND_USAGE
    assert identify_dataset(["BilledCost", "InvoiceIssueStatus"]) is Dataset.INVOICE_DETAIL
    # InvoiceDetailId is a Cost and Usage 1.4 column too: a charge period decides
    assert identify_dataset(["ChargePeriodStart", "InvoiceDetailId"]) is Dataset.COST_AND_USAGE
    assert identify_dataset(["contractid", "CONTRACTCOMMITMENTID"]) is \
        Dataset.CONTRACT_COMMITMENT
    assert identify_dataset(["BillingPeriodStatus"]) is Dataset.BILLING_PERIOD


@pytest.mark.parametrize(("version", "flagged"), [("1.3", False), ("1.4", True)])
def test_nullability_follows_the_version(
        toolkit_files: dict[str, Path], tmp_path: Path, version: str, flagged: bool) -> None:
    # The 1.4 Data Model made PricingCurrency non-nullable; 1.3 allows nulls.
    rows = read_rows(toolkit_files[f"{version}/CostAndUsage/csv"])
    where = rows[0].index("PricingCurrency")
    rows[3][where] = ""
    target = tmp_path / "cu.csv"
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    failed = [(r.rule_id, r.column, r.rows) for r in validate(str(target)).failures]
    assert failed == ([("values.not-null", "PricingCurrency", (3,))] if flagged else [])
