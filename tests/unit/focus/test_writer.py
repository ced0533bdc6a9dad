"""FOCUS file writing: the text of each cell, and reading the file back gives the same table."""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from focusflow.errors import SinkError
from focusflow.focus import DECIMAL, TIMESTAMP, FocusReader
from focusflow.focus.writer import FileFormat, csv_cells, write_focus_file

DECIMALS = ["0", "0E-18", "-1.500", "12", "1E-7", "-0.000000000000000001",
            "12345678901234567890.123456789012345678", "100", "0.1", None]
SHORTEST = ["0", "0", "-1.5", "12", "0.0000001", "-0.000000000000000001",
            "12345678901234567890.123456789012345678", "100", "0.1", ""]


@pytest.mark.parametrize("repeat", [1, 40])  # direct and dictionary-encoded paths
def test_decimals_are_written_in_their_shortest_exact_form(repeat: int) -> None:
    values = pa.array([Decimal(v) if v else None for v in DECIMALS] * repeat, DECIMAL)
    assert csv_cells(values).to_pylist() == SHORTEST * repeat


@pytest.mark.parametrize("repeat", [1, 40])
def test_datetimes_are_utc_z_with_fractions_only_where_present(repeat: int) -> None:
    moments = [datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 1, 0, 0, 1, 500_000, UTC),
               None, datetime(2026, 12, 31, 23, 59, 59, 123_456, UTC)]
    cells = csv_cells(pa.array(moments * repeat, TIMESTAMP)).to_pylist()
    assert cells == ["2026-05-01T00:00:00Z", "2026-05-01T00:00:01.5Z", "",
                     "2026-12-31T23:59:59.123456Z"] * repeat
    whole = csv_cells(pa.array([moments[0], None], pa.timestamp("s"))).to_pylist()
    assert whole == ["2026-05-01T00:00:00Z", ""]  # zone-less is UTC


def test_text_is_quoted_so_empty_and_null_text_stay_text() -> None:
    cells = csv_cells(pa.array(["AWS", "", None, "NULL", 'say "hi"', "a,b\nc"])).to_pylist()
    assert cells == ['"AWS"', '""', "", '"NULL"', '"say ""hi"""', '"a,b\nc"']


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz", "out.parquet"])
def test_a_written_file_reads_back_to_the_same_table(tmp_path: Path, name: str) -> None:
    rows = 200
    table = pa.table({
        "BilledCost": pa.array([(Decimal(i) / 7).quantize(Decimal("1E-18")) if i % 5 else None
                                for i in range(rows)], DECIMAL),
        "ChargePeriodStart": pa.array([datetime(2026, 5, 1, i % 24, tzinfo=UTC)
                                       for i in range(rows)], TIMESTAMP),
        "ServiceName": pa.array([f"svc {i % 3}" if i % 7 else None for i in range(rows)]),
        "x_Note": pa.array(["", "NULL", None, 'q"uote'] * (rows // 4)),
    })
    out = tmp_path / name
    write_focus_file(table, out)
    assert FileFormat.of(out).value == name.split(".", 1)[1]
    if name.endswith(".gz"):
        assert gzip.decompress(out.read_bytes()).startswith(b"BilledCost,")
    if name.endswith(".parquet"):
        assert pq.read_schema(out).field("BilledCost").type == DECIMAL
    with FocusReader(str(out), require_mandatory=False) as reader:
        back = pa.Table.from_batches(list(reader.batches()), schema=reader.schema)
    assert back.select(table.column_names).equals(table)
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_an_unwritable_target_keeps_the_earlier_file(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("earlier\n", encoding="utf-8")
    (tmp_path / "blocked").mkdir()
    with pytest.raises(SinkError, match="nothing was written"):
        write_focus_file(pa.table({"BilledCost": pa.array([Decimal(1)], DECIMAL)}),
                         tmp_path / "blocked")  # a directory cannot be replaced by a file
    assert out.read_text(encoding="utf-8") == "earlier\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked", "out.csv"]
    with out.open(newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [["earlier"]]
