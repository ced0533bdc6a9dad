"""Validate by type, not by rendering: typed Parquet written from the real FOCUS samples.

The focus-data-toolkit samples (FOCUS 1.2 AWS/Azure/GCP, 1.3 AWS Cost and Usage and Contract
Commitment) are written as Parquet the way exports type them (the toolkit's own Parquet writer
uses ``decimal128`` and ``timestamp('us', tz='UTC')``; Azure-style exports use doubles). A
typed file must get exactly the verdicts of its CSV (it used to fail Date/Time Format on every
row), load with ``ingest --validate`` losing no cell, and typed values that FOCUS does not
allow (a zone-less timestamp, NaN, an id stored as a number) are still findings.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fixtures.paths import EXAMPLES, TEST_DATA
from focusflow.cli import app
from focusflow.focus.catalogue import DataType
from focusflow.focus.schema import resolve_header
from focusflow.focus.validation import (
    RequirementsModel,
    RuleResult,
    Status,
    ValidateOptions,
    validate,
)
from focusflow.sinks import open_sink

pytestmark = pytest.mark.integration
runner = CliRunner()
SAMPLES = [*sorted(EXAMPLES.glob("focus_1_2_*.csv")), *sorted((TEST_DATA / "v13").glob("*.csv"))]
STORED = "columns.stored-type"
UTC_US = pa.timestamp("us", tz="UTC")  # what the toolkit's Parquet writer uses


def read_text(csv: Path) -> pa.Table:
    with csv.open("rb") as handle:
        header = handle.readline().decode("utf-8-sig").strip().split(",")
    return pacsv.read_csv(csv, convert_options=pacsv.ConvertOptions(
        column_types=dict.fromkeys([h.strip('"') for h in header], pa.string()),
        null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False))


def typed_parquet(csv: Path, out: Path, numbers: pa.DataType,
                  stamps: pa.DataType = UTC_US) -> Path:
    """``csv`` as Parquet with FOCUS types: Decimal columns as ``numbers``, Date/Time as
    ``stamps``, the rest as text."""
    text = read_text(csv)
    layout = resolve_header(text.column_names, file=str(csv))
    columns = []
    for entry, raw in zip(layout.columns, text.columns, strict=True):
        kind = entry.catalogue.data_type if entry.catalogue else None
        if kind is DataType.DECIMAL:
            columns.append(raw.cast(numbers))
        elif kind is DataType.DATETIME:
            columns.append(raw.cast(UTC_US).cast(stamps))
        else:
            columns.append(raw)
    pq.write_table(pa.table(columns, names=text.column_names), out)
    return out


def failures(path: Path, model: RequirementsModel | None = None) -> set[tuple[object, ...]]:
    report = validate(str(path), ValidateOptions(model=model))
    return {(r.rule_id, r.column, r.count, r.rows) for r in report.failures}


def result(path: Path, rule: str, column: str) -> RuleResult:
    report = validate(str(path))
    return next(r for r in report.results if (r.rule_id, r.column) == (rule, column))


@pytest.mark.parametrize("numbers", [pa.decimal128(38, 18), pa.float64()],
                         ids=["decimal", "double"])
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_typed_parquet_gets_the_verdicts_of_its_csv(
    tmp_path: Path, sample: Path, numbers: pa.DataType
) -> None:
    parquet = typed_parquet(sample, tmp_path / "typed.parquet", numbers)
    assert failures(parquet) == failures(sample)
    report = validate(str(parquet))
    typed = [r for r in report.results if r.rule_id == STORED]
    assert typed and all(r.status is Status.PASSED for r in typed)


@pytest.mark.parametrize("numbers", [pa.decimal128(38, 18), pa.float64()],
                         ids=["decimal", "double"])
def test_typed_parquet_with_the_requirements_model(
    tmp_path: Path, focus_model: RequirementsModel, numbers: pa.DataType
) -> None:
    for sample in sorted(EXAMPLES.glob("focus_1_2_*.csv")):
        parquet = typed_parquet(sample, tmp_path / f"{sample.stem}.parquet", numbers)
        assert failures(parquet, focus_model) == failures(sample, focus_model), sample.name


def test_ingest_validate_loads_typed_parquet_losing_nothing(
    tmp_path: Path, focus_rules_env: Path
) -> None:
    sample = EXAMPLES / "focus_1_2_cost_and_usage_azure.csv"
    parquet = typed_parquet(sample, tmp_path / "azure.parquet", pa.decimal128(38, 18))
    db = tmp_path / "f.duckdb"
    result_ = runner.invoke(app, ["ingest", "--validate", str(parquet), "--db",
                                  f"duckdb:///{db}"])
    assert result_.exit_code == 0, result_.output
    sink = open_sink(f"duckdb:///{db}")
    try:
        loaded = sink.read_table("focus")
    finally:
        sink.close()
    text = read_text(sample)
    assert loaded.num_rows == text.num_rows
    for name in text.column_names:
        raw = text.column(name)
        blank = pc.sum(pc.equal(raw, "")).as_py() or 0
        assert loaded.column(name).null_count == raw.null_count + blank, name
        if pa.types.is_decimal(loaded.schema.field(name).type):
            values = [Decimal(v) for v in raw.to_pylist() if v]
            assert Decimal(str(pc.sum(loaded.column(name)).as_py() or 0)) == sum(
                values, Decimal(0)), name


def test_a_zoned_timestamp_is_an_instant_whatever_its_zone(tmp_path: Path) -> None:
    sample = EXAMPLES / "focus_1_2_cost_and_usage_gcp.csv"
    parquet = typed_parquet(sample, tmp_path / "ny.parquet", pa.decimal128(38, 18),
                            pa.timestamp("ms", tz="America/New_York"))
    assert failures(parquet) == failures(sample)


def test_a_timestamp_without_a_zone_is_not_utc(tmp_path: Path) -> None:
    sample = EXAMPLES / "focus_1_2_cost_and_usage_gcp.csv"
    parquet = typed_parquet(sample, tmp_path / "naive.parquet", pa.decimal128(38, 18),
                            pa.timestamp("us"))
    found = result(parquet, "values.datetime-format", "ChargePeriodStart")
    assert (found.status, found.count) == (Status.FAILED, 2000)
    report = validate(str(parquet))
    assert any("ChargePeriodStart is stored as a timestamp without a time zone" in n
               for n in report.notes)


def edited(sample: Path, out: Path, column: str, array: pa.Array) -> Path:
    table = pq.read_table(sample)
    index = table.column_names.index(column)
    pq.write_table(table.set_column(index, column, array), out)
    return out


def test_nan_and_sub_second_values_are_findings_on_their_rows(tmp_path: Path) -> None:
    base = typed_parquet(EXAMPLES / "focus_1_2_cost_and_usage_aws.csv",
                         tmp_path / "aws.parquet", pa.float64())
    costs = pq.read_table(base).column("BilledCost").to_pylist()
    costs[4] = float("nan")
    nan = edited(base, tmp_path / "nan.parquet", "BilledCost", pa.array(costs, pa.float64()))
    found = result(nan, "values.numeric-format", "BilledCost")
    assert (found.count, found.rows) == (1, (5,))
    starts = pq.read_table(base).column("ChargePeriodStart").to_pylist()
    starts[9] = starts[9] + dt.timedelta(milliseconds=250)
    fraction = edited(base, tmp_path / "ms.parquet", "ChargePeriodStart",
                      pa.array(starts, pa.timestamp("us", tz="UTC")))
    found = result(fraction, "values.datetime-format", "ChargePeriodStart")
    assert (found.count, found.rows) == (1, (10,))


def test_an_id_stored_as_a_number_fails_its_type(tmp_path: Path) -> None:
    sample = EXAMPLES / "focus_1_2_cost_and_usage_aws.csv"  # numeric AWS account ids
    base = typed_parquet(sample, tmp_path / "aws.parquet", pa.decimal128(38, 18))
    ids = pq.read_table(base).column("BillingAccountId").cast(pa.int64())
    numeric = edited(base, tmp_path / "ids.parquet", "BillingAccountId", ids)
    found = result(numeric, STORED, "BillingAccountId")
    assert (found.status, found.rows) == (Status.FAILED, (0,))
    assert "stored as int64" in found.message
