"""DuckDB's Parquet fast path (reading and typing the file in the database) agrees with Arrow.

The invariant is the text fast path's: for any typed Parquet column, the fast path either loads
exactly what the Arrow path (render as text, then ``focus/conversion.py``) loads, or refuses
(``TextRowsRefused``) so the caller falls back, or declines the file (a column type without an
exact fast path) so the text path types it. It never loads a value differently or loads what
the Arrow path rejects. The files are the bundled FOCUS samples, typed by DuckDB's own writer
(``DOUBLE`` costs, ``TIMESTAMP WITH TIME ZONE`` periods: what a warehouse export looks like) and
by Arrow (``decimal(38,18)``), with one column's type or value changed per case.
"""

from __future__ import annotations

import decimal
import math
import random
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fixtures.fast_path import in_order, load, outcome
from fixtures.paths import EXAMPLES, sample_files
from focusflow.errors import InputError
from focusflow.focus import FocusReader
from focusflow.ingest import IngestOptions, ingest
from focusflow.ingest.job import SameContentError, _ingest_file
from focusflow.sinks import (
    LoadRequest,
    ParquetRows,
    ParquetRowsRefused,
    open_sink,
)
from focusflow.sinks.duckdb import parquet
from focusflow.sinks.duckdb.casts import REFUSED

TEMPLATE = EXAMPLES / "focus_1_2_cost_and_usage_azure.csv"
Z = UTC


def duckdb_parquet(csv: Path, out: Path) -> Path:
    """``csv`` as DuckDB writes it to Parquet from its own typed read (doubles, timestamptz)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"COPY (SELECT * FROM read_csv(?, header = true)) TO '{out}' (FORMAT parquet)",
                [str(csv)])
    con.close()
    return out


@pytest.fixture(scope="module")
def typed_template(tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """The Azure sample's first two rows, typed by DuckDB."""
    path = duckdb_parquet(TEMPLATE, tmp_path_factory.mktemp("template") / "azure.parquet")
    return pq.read_table(path).slice(0, 2)


def with_column(table: pa.Table, column: str, array: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, array)


def write(table: pa.Table, path: Path) -> Path:
    pq.write_table(table, path)
    return path





def eligible(path: Path) -> bool:
    """Whether the DuckDB sink reads this file with its Parquet fast path."""
    with FocusReader(str(path)) as reader:
        kinds = reader.parquet_kinds
        assert kinds is not None
        names = [f"c{i}" for i in range(len(kinds))]
        return parquet.plan(reader.layout, kinds, names, "p") is not None


def public_ingest(path: Path, db: Path) -> pa.Table | str:
    sink = open_sink(f"duckdb:///{db}")
    try:
        ingest(str(path), sink, IngestOptions(source_id="s"))
        return in_order(sink.read_table("focus"))
    except InputError as exc:
        return f"error: {exc}"
    finally:
        sink.close()


def ts(unit: str, tz: str | None, *values: datetime | None) -> pa.Array:
    return pa.array(list(values), pa.timestamp(unit, tz=tz))


def tags(*rows: list[tuple[str, str | None]] | None) -> pa.Array:
    """A ``Tags`` column as AWS writes it to Parquet: map<string, string>."""
    return pa.array(list(rows), pa.map_(pa.string(), pa.string()))


# (column, Arrow array of two values) the fast path must load exactly as Arrow does.
PLAIN: dict[str, tuple[str, Callable[[], pa.Array]]] = {
    "decimal(38,18)": ("BilledCost", lambda: pa.array(
        [decimal.Decimal("12345678901234567890.123456789012345678"),
         decimal.Decimal("-0.000000000000000001")], pa.decimal128(38, 18))),
    "decimal(38,14)": ("BilledCost", lambda: pa.array(  # focus-data-toolkit's default scale
        [decimal.Decimal("12345678901234567890.12345678901234"), decimal.Decimal("-1.5")],
        pa.decimal128(38, 14))),
    "decimal(38,20) zeros": ("BilledCost", lambda: pa.array(
        [decimal.Decimal("1.5"), decimal.Decimal("0.00000000000000000100")],
        pa.decimal128(38, 20))),
    "decimal(12,4)": ("BilledCost", lambda: pa.array(
        [decimal.Decimal("1.5000"), None], pa.decimal128(12, 4))),
    "double": ("BilledCost", lambda: pa.array([0.1, 12345.6789], pa.float64())),
    "double exponent": ("ListUnitPrice", lambda: pa.array([1.6e-05, 1.3248e-05], pa.float64())),
    "double edges": ("BilledCost", lambda: pa.array([-0.0, 1e19], pa.float64())),
    "double 18 digits": ("BilledCost", lambda: pa.array([1.5e-17, 1e-18], pa.float64())),
    "int64 cost": ("PricingQuantity", lambda: pa.array([500, -(2**63)], pa.int64())),
    "int64 text": ("BillingAccountId", lambda: pa.array([42, None], pa.int64())),
    "bool text": ("x_Custom", lambda: pa.array([True, False], pa.bool_())),
    "double text": ("x_BilledCostInUsd", lambda: pa.array([100.0, -0.0], pa.float64())),
    "double text plain": ("x_Custom", lambda: pa.array([0.0001, 9999999999.5], pa.float64())),
    "double text small": ("x_Custom", lambda: pa.array([1.6e-05, -1e-06], pa.float64())),
    "timestamp utc": ("ChargePeriodStart", lambda: ts(
        "us", "UTC", datetime(2026, 5, 1, 10, 20, 30, 123456, Z), None)),
    "timestamp naive": ("ChargePeriodStart", lambda: ts(
        "us", None, datetime(2026, 5, 1), datetime(2026, 5, 1, 0, 0, 1))),
    "timestamp ms new york": ("ChargePeriodStart", lambda: ts(
        "ms", "America/New_York", datetime(2026, 5, 1, 4, tzinfo=Z), None)),
    "timestamp s +05:30": ("ChargePeriodEnd", lambda: ts(
        "s", "+05:30", datetime(2026, 5, 1, 23, 59, 59, tzinfo=Z), None)),
    "date": ("ChargePeriodStart", lambda: pa.array([date(2026, 5, 1), None], pa.date32())),
    "map tags": ("Tags", lambda: tags([("a", "b"), ("env", "prod")], [])),
    "map tags null value": ("Tags", lambda: tags([("z", None), ("a", "2")], None)),
    "string json": ("Tags", lambda: pa.array(['{"a": "b"}', None], pa.string())),
    "dictionary": ("ChargeCategory", lambda: pa.array(["Usage", "Tax"]).dictionary_encode()),
    "dictionary cost": ("BilledCost", lambda: pa.array(["1.5", None]).dictionary_encode()),
    "large string": ("ChargeCategory", lambda: pa.array(["Usage", "Tax"], pa.large_string())),
}

# Values or types where the fast path must refuse or decline, never load differently.
TRICKY: dict[str, tuple[str, Callable[[], pa.Array]]] = {
    "double 19th digit": ("BilledCost", lambda: pa.array([1.5e-18, 0.1], pa.float64())),
    "double 17 digits small": ("BilledCost", lambda: pa.array([1.234e-16, 0.1], pa.float64())),
    "double nan": ("BilledCost", lambda: pa.array([0.5, float("nan")], pa.float64())),
    "double inf": ("BilledCost", lambda: pa.array([float("-inf"), 1.0], pa.float64())),
    "double overflow": ("BilledCost", lambda: pa.array([1e25, 1.0], pa.float64())),
    "float32": ("BilledCost", lambda: pa.array([0.1, 2603642.2], pa.float32())),
    "double in text": ("x_Custom", lambda: pa.array([1.0, 1e-07], pa.float64())),
    "double in text 1e10": ("x_Custom", lambda: pa.array([1e10, 1.6e-05], pa.float64())),
    "double in text nan": ("x_Custom", lambda: pa.array([float("nan"), 1.0], pa.float64())),
    "double in allowed": ("ChargeCategory", lambda: pa.array([1.0, 2.0], pa.float64())),
    "decimal(38,20)": ("BilledCost", lambda: pa.array(
        [decimal.Decimal("1.5"), decimal.Decimal("0.00000000000000000001")],
        pa.decimal128(38, 20))),
    "decimal(38,14) 21 digits": ("BilledCost", lambda: pa.array(
        [decimal.Decimal("1.5"), decimal.Decimal("123456789012345678901.5")],
        pa.decimal128(38, 14))),
    "decimal(38,9) 29 digits": ("BilledCost", lambda: pa.array(  # BigQuery NUMERIC
        [decimal.Decimal("-12345678901234567890123456789.123456789"), None],
        pa.decimal128(38, 9))),
    "timestamp ns": ("ChargePeriodStart", lambda: pa.array(
        [1_777_593_600_000_000_001, None], pa.timestamp("ns", tz="UTC"))),
    "timestamp year 10000": ("ChargePeriodStart", lambda: pa.array(
        [253_402_300_800_000_000, None], pa.timestamp("us", tz="UTC"))),
    "int in datetime": ("ChargePeriodStart", lambda: pa.array([1, 2], pa.int64())),
    "bool in decimal": ("BilledCost", lambda: pa.array([True, False], pa.bool_())),
    "not allowed": ("ChargeCategory", lambda: pa.array(["usage", "Usage"], pa.string())),
    "lenient json": ("Tags", lambda: pa.array(['{"a": "b"}', '{"a": 1,}'], pa.string())),
    "json array": ("Tags", lambda: pa.array(["[1]", '{"a": "b"}'], pa.string())),
    "json nan": ("Tags", lambda: pa.array(['{"a": NaN}', None], pa.string())),
    "dictionary not allowed": ("ChargeCategory", lambda: pa.array(
        ["Usage", "usage"]).dictionary_encode()),
    "text cost": ("BilledCost", lambda: pa.array(["12.5", "abc"], pa.string())),
    "map tags é": ("Tags", lambda: tags([("a", "é")], [("b", "c")])),
    "map tags quote": ("Tags", lambda: tags([("a", 'say "hi"')], [])),
    "map tags backslash": ("Tags", lambda: tags([("a\\b", "c")], None)),
    "map tags newline": ("Tags", lambda: tags([("a", "x\ny")], None)),
    "map tags duplicate keys": ("Tags", lambda: tags([("a", "1"), ("a", "2")], None)),
    "map of numbers": ("Tags", lambda: pa.array([[("a", 1)], None],
                                                pa.map_(pa.string(), pa.int64()))),
}


def case_file(template: pa.Table, tmp_path: Path, column: str, array: pa.Array) -> Path:
    table = template
    if column not in table.column_names:
        table = table.append_column(column, pa.nulls(2, pa.string()))
    return write(with_column(table, column, array), tmp_path / "case.parquet")


@pytest.mark.parametrize("case", list(PLAIN))
def test_typed_columns_take_the_parquet_path_and_load_as_arrow_does(
    typed_template: pa.Table, tmp_path: Path, case: str
) -> None:
    column, make = PLAIN[case]
    path = case_file(typed_template, tmp_path, column, make())
    assert eligible(path)
    typed = outcome(path, tmp_path / "typed.duckdb", fast=False)
    fast = outcome(path, tmp_path / "fast.duckdb", fast=True)
    assert isinstance(typed, pa.Table), typed
    assert isinstance(fast, pa.Table), fast
    assert fast.equals(typed)


@pytest.mark.parametrize("case", list(TRICKY))
def test_tricky_typed_values_are_never_loaded_differently(
    typed_template: pa.Table, tmp_path: Path, case: str
) -> None:
    column, make = TRICKY[case]
    path = case_file(typed_template, tmp_path, column, make())
    typed = outcome(path, tmp_path / "typed.duckdb", fast=False)
    fast = outcome(path, tmp_path / "fast.duckdb", fast=True)
    if isinstance(fast, pa.Table):
        assert isinstance(typed, pa.Table), f"fast path loaded what Arrow rejects: {typed}"
        assert fast.equals(typed)
    else:
        assert fast == "refused"
    # Whatever the fast path did, the public entry point ends exactly like the authority,
    # errors included (same file, row, column and message).
    public = public_ingest(path, tmp_path / "public.duckdb")
    if isinstance(typed, pa.Table):
        assert isinstance(public, pa.Table), public
        assert public.equals(typed)
    else:
        assert public == typed


def test_an_untypable_double_fails_with_the_arrow_paths_error(
    typed_template: pa.Table, tmp_path: Path
) -> None:
    path = case_file(typed_template, tmp_path, "BilledCost",
                     pa.array([0.5, float("nan")], pa.float64()))
    assert eligible(path)  # the file takes the Parquet path; the value sends it back
    sink = open_sink(f"duckdb:///{tmp_path / 'x.duckdb'}")
    try:
        with pytest.raises(InputError) as caught:
            ingest(str(path), sink, IngestOptions(source_id="s"))
    finally:
        sink.close()
    assert caught.value.row == 2
    assert caught.value.column == "BilledCost"
    assert str(caught.value).startswith(
        f"{path}, row 2, column BilledCost: expected a decimal number (Numeric Format, at most "
        "18 fractional digits), found 'nan'")
    assert outcome(path, tmp_path / "typed.duckdb", fast=False) == f"error: {caught.value}"


def test_a_value_the_parquet_path_refuses_goes_to_the_text_path_before_arrow(
    typed_template: pa.Table, tmp_path: Path
) -> None:
    # A tiny double in an x_ column: Arrow writes "1e-7", DuckDB "1e-07", so the Parquet path
    # refuses it; the text rows (Arrow's rendering, typed in DuckDB) still load it.
    path = case_file(typed_template, tmp_path, "x_UnitPrice",
                     pa.array([1e-07, 0.5], pa.float64()))
    assert eligible(path)
    options = IngestOptions(source_id="s")
    sink = open_sink(f"duckdb:///{tmp_path / 'fast.duckdb'}")
    try:
        with pytest.raises(ParquetRowsRefused):
            _ingest_file(str(path), sink, options, None, offer_text=True)
        _ingest_file(str(path), sink, options, None, offer_text=True, offer_parquet=False)
        text_path = in_order(sink.read_table("focus"))
    finally:
        sink.close()
    typed = load(path, tmp_path / "typed.duckdb", fast=False)
    assert text_path.equals(typed)
    assert text_path.column("x_UnitPrice").to_pylist() == ["1e-7", "0.5"]
    public = public_ingest(path, tmp_path / "public.duckdb")
    assert isinstance(public, pa.Table)
    assert public.equals(typed)


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_sample_typed_by_duckdb_loads_on_the_parquet_path_as_arrow_does(
    tmp_path: Path, path: Path
) -> None:
    typed_file = duckdb_parquet(path, tmp_path / "sample.parquet")
    assert eligible(typed_file)
    fast = load(typed_file, tmp_path / "fast.duckdb", fast=True)  # a refusal would raise here
    typed = load(typed_file, tmp_path / "typed.duckdb", fast=False)
    assert fast.num_rows > 0
    assert fast.equals(typed)


TOOLKIT_PARQUET = [
    "1.2/CostAndUsage/parquet", "1.3/CostAndUsage/parquet", "1.3/ContractCommitment/parquet",
    "1.4/CostAndUsage/parquet", "1.4/ContractCommitment/parquet", "1.4/InvoiceDetail/parquet",
    "1.4/BillingPeriod/parquet",
]


@pytest.mark.parametrize("key", TOOLKIT_PARQUET)
def test_focus_data_toolkit_parquet_loads_on_the_parquet_path_as_arrow_does(
    toolkit_files: dict[str, Path], tmp_path: Path, key: str
) -> None:
    # decimal128(38,14/16/17) and timestamp[us, UTC], as the public generator writes 1.4
    path = toolkit_files[key]
    assert eligible(path)
    fast = load(path, tmp_path / "fast.duckdb", fast=True)  # a refusal would raise here
    typed = load(path, tmp_path / "typed.duckdb", fast=False)
    assert fast.num_rows > 0
    assert fast.equals(typed)


def test_every_sample_typed_by_arrow_as_decimal_loads_on_the_parquet_path(
    tmp_path: Path,
) -> None:
    for index, path in enumerate(sample_files()):
        with FocusReader(str(path)) as reader:  # decimal(38,18) and timestamp[us, UTC]
            table = pa.Table.from_batches(list(reader.batches()), schema=reader.schema)
        table = table.cast(pa.schema([
            pa.field(f.name, pa.string()) if pa.types.is_nested(f.type) or
            f.type == pa.large_string() else f for f in table.schema]))
        typed_file = write(table, tmp_path / f"{index}.parquet")
        assert eligible(typed_file), path
        fast = load(typed_file, tmp_path / f"fast{index}.duckdb", fast=True)
        assert fast.equals(load(path, tmp_path / f"csv{index}.duckdb", fast=False)), path


def test_duckdb_and_arrow_write_a_double_with_the_same_digits(tmp_path: Path) -> None:
    # The double path renders in DuckDB what the authority renders in Arrow: both shortest
    # round-trip forms, which this pins over many magnitudes (FLOAT differs: not used).
    rng = random.Random(7)  # noqa: S311 - reproducible test data
    values = [rng.random() * 10.0 ** rng.randint(-12, 20) for _ in range(20_000)]
    values += [rng.randint(0, 10**6) / 10.0 ** rng.randint(0, 8) for _ in range(20_000)]
    path = write(pa.table({"x": pa.array(values, pa.float64())}), tmp_path / "d.parquet")
    con = duckdb.connect()
    duck = [row[0] for row in con.execute(
        "SELECT CAST(x AS VARCHAR) FROM read_parquet(?)", [str(path)]).fetchall()]
    arrow = pa.array(values, pa.float64()).cast(pa.string()).to_pylist()
    assert [decimal.Decimal(v) for v in duck] == [decimal.Decimal(v) for v in arrow]


def test_doubles_become_the_decimal_arrow_reads_from_their_text_or_are_refused() -> None:
    rng = random.Random(5)  # noqa: S311 - reproducible test data
    values = [rng.choice((1, -1)) * rng.random() * 10.0 ** rng.randint(-20, 22)
              for _ in range(20_000)]
    values += [rng.randint(0, 10**7) / 10.0 ** rng.randint(0, 12) for _ in range(10_000)]
    values += [0.0, -0.0, 1e19, 1e20, 1.5e-18, 1e-18, float("nan"), float("inf")]
    # One query: a refusal (guard or failed cast) becomes a null here.
    expression = parquet.double_as_decimal("x").replace(
        f"error('{REFUSED}')", "NULL").replace("THEN CAST(", "THEN TRY_CAST(")
    con = duckdb.connect()
    written = [row[0] for row in con.execute(
        f"SELECT {expression} FROM (SELECT unnest(?::DOUBLE[]) AS x)", [values]).fetchall()]
    # The authority: Arrow's text for the double, cast to decimal(38,18) (or refused).
    for value, mine in zip(values, written, strict=True):
        text = pa.array([value], pa.float64()).cast(pa.string())
        try:
            theirs = text.cast(pa.decimal128(38, 18))[0].as_py()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            theirs = None
        if mine is not None:
            assert mine == theirs, (value, mine, theirs)
    assert sum(v is not None for v in written) > len(values) // 2


def test_doubles_near_the_edges_of_the_arithmetic_branch_load_their_shortest_text() -> None:
    # Values with at most 10 decimals below 1e5 skip the text (n = round(x * 1e10) is proved
    # to be the shortest text's digits); their neighbours one ulp away (17 significant digits),
    # values with 11 decimals, and values at 1e5 take the text. Each must load exactly the
    # decimal of Arrow's text, and none with at most 18 decimals may be refused.
    rng = random.Random(13)  # noqa: S311 - reproducible test data
    values = [0.0, -0.0, 1e-10, -1e-10, 5e-11, 1.5e-10, 99999.9999999999, 1e5, -1e5,
              99999.99999999999, 12345.6789, 0.29, 0.1 + 0.2, 2.0**-33, 65536.00001]
    for _ in range(5_000):
        decimal_text = f"{rng.randint(0, 10 ** rng.randint(1, 15))}e-{rng.randint(0, 12)}"
        value = rng.choice((1, -1)) * float(decimal_text)
        values += [value, math.nextafter(value, math.inf), math.nextafter(value, -math.inf)]
    def places(value: float) -> int:
        exponent = decimal.Decimal(repr(value)).as_tuple().exponent
        assert isinstance(exponent, int)
        return -exponent

    values = [v for v in values if abs(v) < 1e7 and places(v) <= 18]
    expression = parquet.double_as_decimal("x")
    con = duckdb.connect()
    written = [row[0] for row in con.execute(
        f"SELECT {expression} FROM (SELECT unnest(?::DOUBLE[]) AS x)", [values]).fetchall()]
    arrow = pa.array(values, pa.float64()).cast(pa.string()).to_pylist()
    assert written == [decimal.Decimal(text) for text in arrow]
    arithmetic = con.execute(
        "SELECT count(*) FROM (SELECT unnest(?::DOUBLE[]) AS x) "
        "WHERE abs(x) < 1e5 AND round(x * 1e10) / 1e10 = x", [values]).fetchone()
    assert arithmetic is not None
    assert len(values) // 10 < arithmetic[0] < len(values) // 2  # both branches are exercised


def test_doubles_in_text_columns_are_written_as_arrow_writes_them_or_refused() -> None:
    rng = random.Random(11)  # noqa: S311 - reproducible test data
    values = [rng.choice((1, -1)) * rng.random() * 10.0 ** rng.randint(-8, 12)
              for _ in range(20_000)] + [float(rng.randint(0, 10**9)) for _ in range(2_000)]
    # One query: a refusal (error) becomes a null here, so every value is judged at once.
    expression = parquet.double_as_text("x").replace(
        f"error('{REFUSED}')", "NULL")
    written = duckdb.connect().execute(
        f"SELECT {expression} FROM (SELECT unnest(?::DOUBLE[]) AS x)", [values]).fetchall()
    arrow = pa.array(values, pa.float64()).cast(pa.string()).to_pylist()
    taken = [(row[0], text) for row, text in zip(written, arrow, strict=True)
             if row[0] is not None]
    assert len(taken) > len(values) // 2
    assert all(mine == theirs for mine, theirs in taken)


def test_unchanged_file_replace_and_failed_load_on_the_parquet_path(
    typed_template: pa.Table, tmp_path: Path
) -> None:
    first = duckdb_parquet(TEMPLATE, tmp_path / "first.parquet")
    db = tmp_path / "db.duckdb"
    sink = open_sink(f"duckdb:///{db}")
    try:
        options = IngestOptions(source_id="azure")
        loaded = ingest(str(first), sink, options).result
        assert loaded.rows_written == pq.ParquetFile(first).metadata.num_rows
        assert ingest(str(first), sink, options).result.unchanged  # same fingerprint
        # A restated file for the same source and period replaces the rows, never adds.
        restated = pq.read_table(first).slice(0, 10)
        second = write(restated, tmp_path / "first.parquet")
        result = ingest(str(second), sink, options).result
        assert (result.rows_written, result.rows_replaced) == (10, loaded.rows_written)
        # A bad value commits nothing: the table keeps the restated rows.
        bad = with_column(restated, "BilledCost",
                          pa.array([float("nan")] * 10, pa.float64()))
        with pytest.raises(InputError):
            ingest(str(write(bad, tmp_path / "first.parquet")), sink, options)
        assert sink.read_table("focus").num_rows == 10
        # The buffer pool was capped for the Parquet scans only, refused or not.
        assert sink.query("focus", "SELECT current_setting('memory_limit')")[0][0].as_py() \
            == duckdb.connect().execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    finally:
        sink.close()


def test_the_same_parquet_content_under_another_name_is_refused_on_the_parquet_path(
    tmp_path: Path,
) -> None:
    first = duckdb_parquet(TEMPLATE, tmp_path / "azure.parquet")
    again = tmp_path / "copy.parquet"
    again.write_bytes(first.read_bytes())
    assert eligible(again)
    sink = open_sink(f"duckdb:///{tmp_path / 'db.duckdb'}")
    try:
        loaded = ingest(str(first), sink, IngestOptions()).result.rows_written
        with pytest.raises(SameContentError):
            ingest(str(again), sink, IngestOptions())
        assert sink.read_table("focus").num_rows == loaded  # nothing committed
    finally:
        sink.close()


def _settings(sink: Any) -> tuple[int, str]:
    # A second connection to the same database: the first is in the load's transaction.
    rows = sink._con.cursor().execute(
        "SELECT current_setting('threads'), current_setting('memory_limit')").fetchall()
    return int(rows[0][0]), str(rows[0][1])


def test_duckdb_loads_a_parquet_file_on_half_the_cores_then_resets(
    typed_template: pa.Table, tmp_path: Path
) -> None:
    """While DuckDB scans and types a Parquet file it runs on half the cores (on all of them
    the INSERT and the checkpoint cost 0.35 s more CPU per 200k rows, and no less wall time)
    with a bounded buffer pool; both are back to DuckDB's defaults after the load."""
    path = write(typed_template, tmp_path / "t.parquet")
    sink = open_sink(f"duckdb:///{tmp_path / 'f.duckdb'}")
    try:
        threads, memory = _settings(sink)
        seen: list[tuple[int, str]] = []

        def fingerprint() -> str:  # called after the INSERT, inside the load
            seen.append(_settings(sink))
            return "content"

        with FocusReader(str(path)) as reader:
            kinds = reader.parquet_kinds
            assert kinds is not None
            rows = ParquetRows(reader.layout, kinds, lambda: reader.parquet_file().path)
            result = sink.load(LoadRequest("focus", "s", lambda: reader.schema, [],
                                           fingerprint, parquet=rows))
        assert result.rows_written == 2
        assert seen == [(max(1, threads // 2), seen[0][1])]
        assert seen[0][1] != memory  # capped (DuckDB prints the cap in its own units)
        assert _settings(sink) == (threads, memory)
    finally:
        sink.close()
