"""Typed conversion: decimals without loss, UTC date-times, allowed values, row-exact errors."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from focusflow.errors import InputError
from focusflow.focus import resolve_header
from focusflow.focus.conversion import convert_batch, split_valid

HEADER = ["BilledCost", "ChargePeriodStart", "ChargeCategory", "Tags", "x_Note"]


def layout():  # type: ignore[no-untyped-def]
    return resolve_header(HEADER, file="f.csv", require_mandatory=False)


def text_batch(*rows: tuple[str, ...]) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [pa.array(list(c), pa.string()) for c in columns], names=HEADER
    )


def test_values_convert_exactly() -> None:
    batch = text_batch(
        ("0.00000000000000001", "2026-05-01T00:00:00Z", "Usage", '{"a": "b"}', ""),
        ("1.5E-7", "2026-05-01T02:00:00+02:00", "Tax", "", "kept"),
        ("", "2026-05-01", "Credit", "{}", " "),
    )
    typed = convert_batch(batch, layout(), file="f.csv", first_row=1).to_pydict()
    assert typed["BilledCost"] == [Decimal("0.00000000000000001"), Decimal("1.5E-7"), None]
    assert typed["ChargePeriodStart"] == [
        datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC),
        datetime(2026, 5, 1, tzinfo=UTC),
    ]
    assert typed["Tags"] == ['{"a": "b"}', None, "{}"]
    # Custom columns are kept verbatim, empty strings included.
    assert typed["x_Note"] == ["", "kept", " "]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("BilledCost", "1,000.00", "decimal number"),
        ("BilledCost", "$5", "decimal number"),
        ("BilledCost", "0.0000000000000000001", "at most 18 fractional digits"),
        ("ChargePeriodStart", "yesterday", "ISO 8601"),
        ("ChargeCategory", "Refund", "one of Adjustment, Credit, Purchase, Tax, Usage"),
        ("Tags", "[1, 2]", "JSON object"),
        ("Tags", "env=prod", "JSON object"),
    ],
)
def test_bad_value_names_row_and_column(column: str, value: str, expected: str) -> None:
    good = ("1", "2026-05-01T00:00:00Z", "Usage", "{}", "")
    rows = [good] * 5
    bad = list(good)
    bad[HEADER.index(column)] = value
    rows.insert(3, tuple(bad))
    with pytest.raises(InputError) as caught:
        convert_batch(text_batch(*rows), layout(), file="f.csv", first_row=101)
    error = caught.value
    assert (error.file, error.row, error.column) == ("f.csv", 104, column)
    assert expected in str(error)
    assert repr(value) in str(error)


def test_split_valid_quarantines_only_bad_rows() -> None:
    good = ("1", "2026-05-01T00:00:00Z", "Usage", "{}", "")
    rows = [good, ("x", *good[1:]), good, (good[0], good[1], "Nope", "{}", "")]
    kept, rejects, offsets = split_valid(text_batch(*rows), layout(), first_row=1)
    assert kept.num_rows == 2
    assert offsets == [0, 2]
    assert [(r.row, r.column, r.value) for r in rejects] == [
        (2, "BilledCost", "x"), (4, "ChargeCategory", "Nope")
    ]
