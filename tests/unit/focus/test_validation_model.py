"""The requirements-model engine on a small handcrafted model: every verdict kind, row-exact."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from fixtures.focus_samples import write_csv
from focusflow.errors import ConfigError
from focusflow.focus.validation import (
    Report,
    RuleResult,
    Severity,
    Status,
    ValidateOptions,
    load_model,
    to_junit,
    validate,
)


def value(column: str, wanted: Any, function: str = "CheckValue") -> dict[str, Any]:
    return {"CheckFunction": function, "ColumnName": column, "Value": wanted}


def rule(requirement: dict[str, Any] | None, *, keyword: str = "MUST", function: str = "Validation",
         condition: dict[str, Any] | None = None, reference: str = "ChargeCategory",
         dependencies: tuple[str, ...] = (), applicability: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "Function": function, "Reference": reference, "EntityType": "Column",
        "ModelVersionIntroduced": "1.2", "Status": "Active",
        "ApplicabilityCriteria": list(applicability), "Type": "Static",
        "ValidationCriteria": {
            "MustSatisfy": f"{reference} {keyword} hold", "Keyword": keyword,
            "Requirement": requirement or {}, "Condition": condition or {},
            "Dependencies": list(dependencies),
        },
    }


def child(rule_id: str) -> dict[str, Any]:
    return {"CheckFunction": "CheckModelRule", "ModelRuleId": rule_id}


RULES: dict[str, dict[str, Any]] = {
    "T-Allowed": rule({"CheckFunction": "OR", "Items": [value("ChargeCategory", "Usage"),
                                                        value("ChargeCategory", "Purchase")]}),
    "T-Present": rule({"CheckFunction": "ColumnPresent", "ColumnName": "ChargeCategory"},
                      function="Presence"),
    "T-AbsentColumn": rule({"CheckFunction": "ColumnPresent", "ColumnName": "SkuMeter"},
                           function="Presence", keyword="SHOULD", reference="SkuMeter"),
    "T-NonNegative": rule({"CheckFunction": "CheckGreaterOrEqualThanValue",
                           "ColumnName": "ListUnitPrice", "Value": 0}, reference="ListUnitPrice"),
    "T-BareAnd": rule(value("CommitmentDiscountStatus", None, "CheckNotValue"),
                      function="Nullability", reference="CommitmentDiscountStatus",
                      condition={"AND": [value("CommitmentDiscountId", None, "CheckNotValue"),
                                         value("ChargeCategory", "Usage")]}),
    "T-Composite": rule({"CheckFunction": "AND", "Items": [child("T-Inherits")]},
                        function="Composite", condition=value("ChargeCategory", "Purchase")),
    "T-Inherits": rule(value("EffectiveCost", 0), reference="EffectiveCost"),
    "T-Depends": rule(value("ChargeFrequency", "Weekly", "CheckNotValue"),
                      reference="ChargeFrequency", dependencies=("T-Allowed",)),
    "T-Applicability": rule(value("CommitmentDiscountType", None, "CheckNotValue"),
                            function="Nullability", reference="CommitmentDiscountType",
                            applicability=("COMMITMENT_DISCOUNT_SUPPORTED",)),
    "T-Empty": rule(None, reference="BilledCost"),
    "T-May": rule(value("Tags", None), keyword="MAY", function="Nullability", reference="Tags"),
    "T-Should": rule(value("SubAccountName", "prod-platform"), keyword="SHOULD",
                     reference="SubAccountName"),
    "T-Product": rule({"CheckFunction": "ColumnByColumnEqualsColumnValue",
                       "ColumnAName": "ListUnitPrice", "ColumnBName": "PricingQuantity",
                       "ResultColumnName": "ListCost"}, reference="ListCost",
                      condition=value("ChargeClass", "Correction", "CheckNotValue")),
    "T-Distinct": rule({"CheckFunction": "CheckDistinctCount", "ColumnAName": "SkuPriceId",
                        "ColumnBName": "SkuId", "ExpectedCount": 1}, reference="SkuPriceId"),
    "T-KeyValue": rule({"CheckFunction": "FormatKeyValue", "ColumnName": "Tags"},
                       function="Format", reference="Tags"),
    "T-Currency": rule({"CheckFunction": "CheckNationalCurrency", "ColumnName": "BillingCurrency"},
                       function="Format", reference="BillingCurrency"),
    "T-DateTime": rule({"CheckFunction": "FormatDateTime", "ColumnName": "ChargePeriodStart"},
                       function="Format", reference="ChargePeriodStart"),
    "T-Unknown": rule({"CheckFunction": "CheckSomethingNew", "ColumnName": "BilledCost"},
                      reference="BilledCost"),
    "InvoiceId-C-004-C": rule(value("InvoiceId", None), function="Nullability",
                              reference="InvoiceId"),
}


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model-9.9.json"
    path.write_text(json.dumps({
        "Details": {"ModelVersion": "9.9", "FOCUSVersion": "1.2"},
        "ApplicabilityCriteria": {"COMMITMENT_DISCOUNT_SUPPORTED": {"Description": "CDs"}},
        "CheckFunctions": {}, "ModelDatasets": {}, "ModelRules": RULES,
    }))
    return path


def check(tmp_path: Path, model_file: Path, edits: dict[tuple[int, str], str] | None = None,
          applicable: frozenset[str] = frozenset(), **kwargs: Any) -> Report:
    path = write_csv(tmp_path / "f.csv", edits, **kwargs)
    return validate(str(path), ValidateOptions(model=load_model(model_file),
                                               applicable=applicable))


def verdict(report: Report, rule_id: str) -> RuleResult:
    return next(r for r in report.results if r.rule_id == rule_id)


def test_clean_file_passes_the_checkable_rules(tmp_path: Path, model_file: Path) -> None:
    report = check(tmp_path, model_file)
    assert report.model_version == "9.9"
    failed = [(r.rule_id, r.count) for r in report.results if r.status is Status.FAILED]
    assert failed == []
    for rule_id in ("T-Allowed", "T-Present", "T-NonNegative", "T-BareAnd", "T-Inherits",
                    "T-Product", "T-Distinct", "T-KeyValue", "T-Currency", "T-DateTime"):
        assert verdict(report, rule_id).status is Status.PASSED, rule_id
    assert not report.has_errors


def test_invalid_allowed_value_names_rule_column_and_row(tmp_path: Path, model_file: Path) -> None:
    report = check(tmp_path, model_file, {(3, "ChargeCategory"): "Refund"})
    allowed = verdict(report, "T-Allowed")
    assert (allowed.status, allowed.column, allowed.count, allowed.rows) == (
        Status.FAILED, "ChargeCategory", 1, (3,))
    assert report.has_errors
    # A rule depending on the failed one is skipped, naming the dependency.
    depends = verdict(report, "T-Depends")
    assert depends.status is Status.SKIPPED
    assert depends.reason == "dependency T-Allowed failed"


def test_value_rules_leave_nulls_to_nullability_rules(tmp_path: Path, model_file: Path) -> None:
    report = check(tmp_path, model_file, {(2, "ChargeCategory"): ""})
    assert verdict(report, "T-Allowed").status is Status.PASSED


def test_negative_price_is_reported_on_its_row(tmp_path: Path, model_file: Path) -> None:
    report = check(tmp_path, model_file, {(4, "ListUnitPrice"): "-0.5"})
    result = verdict(report, "T-NonNegative")
    assert (result.status, result.column, result.rows) == (Status.FAILED, "ListUnitPrice", (4,))


def test_unparseable_date_is_a_row_finding_not_a_missing_column(
    tmp_path: Path, model_file: Path
) -> None:
    report = check(tmp_path, model_file, {(5, "ChargePeriodStart"): "yesterday"})
    result = verdict(report, "T-DateTime")
    assert (result.status, result.rows) == (Status.FAILED, (5,))
    assert verdict(report, "T-Present").status is Status.PASSED


def test_conditions_written_as_bare_and_are_honoured(tmp_path: Path, model_file: Path) -> None:
    # Row 1 is a Purchase: a null status there is fine; row 3 is Usage: it is not.
    report = check(tmp_path, model_file, {(1, "CommitmentDiscountStatus"): "",
                                          (3, "CommitmentDiscountStatus"): ""})
    result = verdict(report, "T-BareAnd")
    assert (result.status, result.rows) == (Status.FAILED, (3,))
    assert "T-BareAnd" in report.overrides_applied


def test_composite_conditions_apply_to_their_rules(tmp_path: Path, model_file: Path) -> None:
    # T-Inherits (EffectiveCost = 0) sits under a composite "when ChargeCategory is Purchase":
    # only Purchase rows (1 and 5) are judged.
    report = check(tmp_path, model_file, {(5, "EffectiveCost"): "3.5"})
    result = verdict(report, "T-Inherits")
    assert (result.status, result.rows) == (Status.FAILED, (5,))
    composite = verdict(report, "T-Composite")
    assert composite.status is Status.FAILED
    assert composite.composite
    assert composite not in report.failures  # listed once, through its part


def test_applicability_criteria_are_chosen_by_flag(tmp_path: Path, model_file: Path) -> None:
    skipped = verdict(check(tmp_path, model_file), "T-Applicability")
    assert skipped.status is Status.SKIPPED
    assert "COMMITMENT_DISCOUNT_SUPPORTED" in skipped.reason
    chosen = check(tmp_path, model_file, {(2, "CommitmentDiscountType"): ""},
                   applicable=frozenset({"commitment_discount_supported"}))
    assert verdict(chosen, "T-Applicability").rows == (2,)
    everything = check(tmp_path, model_file, applicable=frozenset({"all"}))
    assert verdict(everything, "T-Applicability").status is Status.PASSED


def test_skip_reasons(tmp_path: Path, model_file: Path) -> None:
    report = check(tmp_path, model_file, drop=("SkuMeter",))
    assert verdict(report, "T-Empty").reason.startswith("not machine-checkable")
    assert "CheckSomethingNew" in verdict(report, "T-Unknown").reason
    assert verdict(report, "T-May").reason.startswith("a permission")
    absent = verdict(report, "T-AbsentColumn")
    assert (absent.status, absent.severity, absent.rows) == (Status.FAILED, Severity.WARNING, (0,))
    invoice = verdict(report, "InvoiceId-C-004-C")
    assert invoice.status is Status.SKIPPED
    assert "model defect" in invoice.reason
    assert "InvoiceId-C-004-C" in report.overrides_applied


def test_should_failures_are_warnings(tmp_path: Path, model_file: Path) -> None:
    report = check(tmp_path, model_file, {(2, "SubAccountName"): "staging"})
    result = verdict(report, "T-Should")
    assert (result.status, result.severity, result.rows) == (
        Status.FAILED, Severity.WARNING, (2,))
    assert not report.has_errors


def test_product_rule_and_distinct_count(tmp_path: Path, model_file: Path) -> None:
    report = check(tmp_path, model_file, {(2, "ListCost"): "999", (4, "SkuId"): "OTHER-SKU",
                                          (4, "SkuPriceId"): "SHARED", (3, "SkuPriceId"): "SHARED"})
    product = verdict(report, "T-Product")
    assert (product.status, product.rows) == (Status.FAILED, (2,))
    distinct = verdict(report, "T-Distinct")
    assert (distinct.status, distinct.count) == (Status.FAILED, 1)


def test_key_value_and_currency(tmp_path: Path, model_file: Path) -> None:
    edits = {(1, "Tags"): '{"a": [1]}', (2, "BillingCurrency"): "EURO"}
    report = check(tmp_path, model_file, edits)
    assert verdict(report, "T-KeyValue").rows == (1,)
    assert verdict(report, "T-Currency").rows == (2,)


def test_junit_output_lists_every_rule(tmp_path: Path, model_file: Path) -> None:
    report = check(tmp_path, model_file, {(3, "ChargeCategory"): "Refund"})
    root = ET.fromstring(to_junit(report))  # noqa: S314 - our own output
    suite = root.find("testsuite")
    assert suite is not None
    assert len(list(suite.iter("testcase"))) == len(report.results)
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    failure = cases["T-Allowed"].find("failure")
    assert failure is not None
    assert failure.get("message") == "1 offending row(s): 3"
    skipped = cases["T-Empty"].find("skipped")
    assert skipped is not None
    assert "not machine-checkable" in (skipped.get("message") or "")


def test_a_broken_model_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text('{"Details": {}}')
    with pytest.raises(ConfigError, match="not a FOCUS requirements model"):
        load_model(path)
    with pytest.raises(ConfigError, match="rules fetch"):
        load_model(tmp_path / "missing.json")


def test_a_model_without_the_dataset_is_not_applied(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({
        "Details": {"ModelVersion": "9.9", "FOCUSVersion": "1.2"},
        "ModelDatasets": {"CostAndUsage": {"ModelRules": []}}, "ModelRules": RULES,
    }))
    sample = Path(__file__).parents[2] / "data" / "v13" / "focus_1_3_contract_commitment_aws.csv"
    report = validate(str(sample), ValidateOptions(model=load_model(path)))
    assert report.model_version is None
    assert not [r for r in report.results if r.source == "model"]
    assert "no rules for the ContractCommitment dataset" in report.notes[0]


def test_a_version_mismatch_is_noted(tmp_path: Path, model_file: Path) -> None:
    report = validate(str(write_csv(tmp_path / "f.csv")),
                      ValidateOptions(model=load_model(model_file), focus_version="1.1"))
    assert report.notes == ["FOCUS 1.1 file checked with a FOCUS 1.2 requirements model"]


def test_catalogue_rules_the_model_checks_run_once(tmp_path: Path, model_file: Path) -> None:
    report = check(tmp_path, model_file, {(3, "ChargeCategory"): "Refund"})
    failed = [(r.rule_id, r.column) for r in report.failures]
    # T-Allowed (unconditional allowed values) and T-KeyValue replace their catalogue twins;
    # catalogue rules the model lacks (e.g. the subcategory pairing) still run.
    assert ("T-Allowed", "ChargeCategory") in failed
    assert ("values.allowed", "ChargeCategory") not in failed
    ids = {(r.rule_id, r.column) for r in report.results}
    assert ("values.key-value-format", "Tags") not in ids
    assert ("values.subcategory-of-category", "ServiceSubcategory") in ids
    assert ("values.allowed", "ServiceCategory") in ids
