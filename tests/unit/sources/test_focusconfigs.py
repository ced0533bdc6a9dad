"""FocusConfigs as FOCUS rows, valued as Krateo's exporter values them (krateo e2e data)."""

from __future__ import annotations

import csv
import io

import pytest

from fixtures.krateo_focus import FOCUS, docs, expected_series, krateo_series, squash
from focusflow.errors import InputError
from focusflow.sources.focusconfigs import (
    HEADER,
    focus_csv,
    focus_rows,
    format_pairs,
    format_quantity,
    format_time,
    is_focusconfig_list,
)


def test_rows_of_krateo_e2e_focusconfigs_are_its_expected_series() -> None:
    # Krateo's e2e: sample1 + sample2 form the focus_export group; its exporter must serve
    # exactly the two series its test expects (numbers shortest, UTC dates, Tags k:v;k2:v2).
    sample1, sample2, _ = docs(FOCUS / "to_test_1.yaml")
    rows = focus_rows([sample1, sample2])
    assert {squash(krateo_series(row)) for row in rows} == \
        expected_series("e2e_expected_metrics.txt")


def test_header_is_krateos_focus_spec_in_order() -> None:
    assert len(HEADER) == 50
    assert HEADER[:3] == ("AvailabilityZone", "BilledCost", "BillingAccountId")
    assert HEADER[-1] == "Tags"
    assert "CommitmentDiscountId" in HEADER  # from Krateo's misspelt commitmentDiscoutId


@pytest.mark.parametrize(("given", "text"), [
    (27000.0, "27000"), (27000, "27000"), ("3", "3"), ("0.50", "0.5"), (None, "0"),
    ("1.5k", "1500"), ("2Ki", "2048"), ("500m", "0.5"), ("1e3", "1000"), ("-0.0", "0"),
    ("0.000001", "0.000001"),
])
def test_quantities_in_shortest_form(given: object, text: str) -> None:
    assert format_quantity(given) == text


def test_bad_quantity_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"spec.billedCost: 'lots' is not a number"):
        format_quantity("lots", where="spec.billedCost")


@pytest.mark.parametrize(("given", "text"), [
    ("2024-01-01T00:00:00+02:00", "2023-12-31T22:00:00Z"),
    ("2024-12-31T23:59:59Z", "2024-12-31T23:59:59Z"),
    ("2024-06-01T10:00:00.5-01:30", "2024-06-01T11:30:00Z"),
])
def test_dates_in_utc(given: str, text: str) -> None:
    assert format_time(given) == text


def test_tags_become_a_json_object() -> None:
    assert format_pairs([{"key": "a", "value": "1"}, {"key": "b.c", "value": "x:y"}]) == \
        '{"a":"1","b.c":"x:y"}'
    assert format_pairs(None) == ""


def test_csv_quotes_what_krateo_would_break_on() -> None:
    (sample,) = docs(FOCUS / "to_test_2.yaml")[:1]
    sample["spec"]["focusSpec"]["chargeDescription"] = 'Dell, "XYZ"'
    body = focus_csv(focus_rows([sample]))
    (row,) = list(csv.DictReader(io.StringIO(body.decode())))
    assert row["ChargeDescription"] == 'Dell, "XYZ"'
    assert list(row) == list(HEADER)


def test_item_without_focus_spec_is_named() -> None:
    with pytest.raises(InputError, match=r"FocusConfig finops/x: no spec\.focusSpec"):
        focus_rows([{"metadata": {"name": "x", "namespace": "finops"}, "spec": {}}])


def test_list_paths() -> None:
    assert is_focusconfig_list("/apis/finops.krateo.io/v1/namespaces/finops-test/focusconfigs"
                               "?fieldSelector=status.groupKey=....&limit=500")
    assert is_focusconfig_list("/apis/finops.krateo.io/v1/focusconfigs")
    assert not is_focusconfig_list("/apis/finops.krateo.io/v1/namespaces/x/databaseconfigs")
