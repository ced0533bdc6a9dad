"""The validator's catalogue rules, each on a handcrafted file: rule id, column, count, rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.focus_samples import write_csv
from focusflow.focus.validation import (
    Report,
    RuleResult,
    Severity,
    Status,
    ValidateOptions,
    validate,
)


def failures(report: Report, rule: str, column: str) -> RuleResult:
    found = [r for r in report.failures if r.rule_id == rule and r.column == column]
    seen = [(r.rule_id, r.column) for r in report.failures]
    assert found, f"no {rule} finding on {column}: {seen}"
    return found[0]


def test_a_clean_file_has_no_findings(tmp_path: Path) -> None:
    report = validate(str(write_csv(tmp_path / "clean.csv")))
    assert report.version == "1.2"
    assert report.rows == 5
    assert report.failures == []
    assert not report.has_errors
    assert report.count(Status.PASSED) > 50


@pytest.mark.parametrize(
    ("edits", "rule", "column", "rows"),
    [
        ({(2, "ChargeCategory"): "Refund", (4, "ChargeCategory"): "usage"},
         "values.allowed", "ChargeCategory", (2, 4)),
        ({(3, "ChargeClass"): "Fix"}, "values.allowed", "ChargeClass", (3,)),
        ({(1, "ChargeFrequency"): "Weekly"}, "values.allowed", "ChargeFrequency", (1,)),
        ({(5, "PricingCategory"): "Spot"}, "values.allowed", "PricingCategory", (5,)),
        ({(2, "CommitmentDiscountStatus"): "Half"}, "values.allowed",
         "CommitmentDiscountStatus", (2,)),
        ({(2, "CapacityReservationStatus"): "Maybe"}, "values.allowed",
         "CapacityReservationStatus", (2,)),
        ({(1, "ServiceCategory"): "Cheese"}, "values.allowed", "ServiceCategory", (1,)),
        ({(4, "ServiceSubcategory"): "Object Storage"}, "values.subcategory-of-category",
         "ServiceSubcategory", (4,)),
        ({(3, "BilledCost"): "1,234.50", (5, "BilledCost"): "$3"}, "values.numeric-format",
         "BilledCost", (3, 5)),
        ({(2, "ListUnitPrice"): "+1.5"}, "values.numeric-format", "ListUnitPrice", (2,)),
        ({(2, "ChargePeriodStart"): "2026-05-01 00:00:00"}, "values.datetime-format",
         "ChargePeriodStart", (2,)),
        ({(4, "BillingPeriodEnd"): "2026-02-30T00:00:00Z"}, "values.datetime-format",
         "BillingPeriodEnd", (4,)),
        ({(3, "BillingCurrency"): "XYZ"}, "values.currency-code", "BillingCurrency", (3,)),
        ({(1, "BillingCurrency"): ""}, "values.not-null", "BillingCurrency", (1,)),
        ({(5, "ServiceName"): ""}, "values.not-null", "ServiceName", (5,)),
        ({(2, "Tags"): '{"a": {"nested": 1}}', (3, "Tags"): "[1, 2]", (4, "Tags"): "no json"},
         "values.key-value-format", "Tags", (2, 3, 4)),
        ({(1, "SkuPriceDetails"): '{"k": 1, "k": 2}'}, "values.key-value-format",
         "SkuPriceDetails", (1,)),
        ({(2, "ChargePeriodEnd"): "2026-05-01T00:00:00Z"}, "periods.start-before-end",
         "ChargePeriodStart", (2,)),
        ({(3, "BillingPeriodStart"): "2026-07-01T00:00:00Z"}, "periods.start-before-end",
         "BillingPeriodStart", (3,)),
    ],
)
def test_each_row_rule_names_rule_column_count_and_rows(
    tmp_path: Path, edits: dict[tuple[int, str], str], rule: str, column: str,
    rows: tuple[int, ...],
) -> None:
    report = validate(str(write_csv(tmp_path / "f.csv", edits)))
    finding = failures(report, rule, column)
    assert finding.rows == rows
    assert finding.count == len(rows)
    assert finding.severity is Severity.ERROR
    assert report.has_errors


def test_virtual_pricing_currency_is_only_a_warning(tmp_path: Path) -> None:
    report = validate(str(write_csv(tmp_path / "f.csv", {(2, "PricingCurrency"): "CREDITS"})))
    finding = failures(report, "values.currency-code", "PricingCurrency")
    assert finding.severity is Severity.WARNING
    assert finding.rows == (2,)
    assert not report.has_errors


def test_missing_mandatory_column_is_reported_on_the_header(tmp_path: Path) -> None:
    report = validate(str(write_csv(tmp_path / "f.csv", drop=("BilledCost",))))
    finding = failures(report, "columns.mandatory-present", "BilledCost")
    assert finding.rows == (0,)
    assert report.has_errors


def test_custom_columns_need_the_x_prefix(tmp_path: Path) -> None:
    report = validate(str(write_csv(tmp_path / "f.csv", add={"MyTeam": "a", "x_Team": "b"})))
    finding = failures(report, "columns.custom-prefix", "MyTeam")
    assert finding.rows == (0,)
    assert not [r for r in report.failures if r.column == "x_Team"]


def test_first_rows_are_capped_and_counted(tmp_path: Path) -> None:
    edits = {(row, "ChargeCategory"): "Nope" for row in range(1, 21)}
    path = write_csv(tmp_path / "f.csv", edits, rows=20)
    finding = failures(validate(str(path), ValidateOptions(first_rows=3)), "values.allowed",
                       "ChargeCategory")
    assert finding.count == 20
    assert finding.rows == (1, 2, 3)


def test_numeric_identifiers_stay_strings(tmp_path: Path) -> None:
    # A numeric account id must not be typed as a number (the published validator's mistake).
    path = write_csv(tmp_path / "f.csv", {(1, "BillingAccountId"): "000123456789"})
    assert validate(str(path)).failures == []


def test_version_can_be_forced(tmp_path: Path) -> None:
    report = validate(str(write_csv(tmp_path / "f.csv")), ValidateOptions(focus_version="1.0"))
    assert report.version == "1.0"
    # 1.2 columns are not FOCUS 1.0 columns, so without an x_ prefix they are findings.
    assert failures(report, "columns.custom-prefix", "InvoiceId").rows == (0,)
