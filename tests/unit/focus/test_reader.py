"""Reading FOCUS files: formats, BOM, streaming batches, fingerprints and clear input errors."""

from __future__ import annotations

import csv
import gzip
import itertools
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from fixtures.paths import EXAMPLES
from focusflow.errors import InputError, SourceError
from focusflow.focus import FocusReader, Format

SAMPLE = EXAMPLES / "focus_1_2_cost_and_usage_aws.csv"


def read_all(path: Path | str, **kwargs: object) -> tuple[FocusReader, pa.Table]:
    with FocusReader(str(path), **kwargs) as reader:  # type: ignore[arg-type]
        table = pa.Table.from_batches(list(reader.batches()), schema=reader.schema)
    return reader, table


def test_csv_sample_reads_typed() -> None:
    reader, table = read_all(SAMPLE)
    assert reader.format is Format.CSV
    assert reader.layout.version == "1.2"
    assert table.num_rows == 2000
    assert pa.types.is_decimal(table.schema.field("BilledCost").type)
    assert table.schema.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    assert reader.bytes_read == SAMPLE.stat().st_size
    assert len(reader.fingerprint) == 32


def test_bom_gzip_json_and_parquet_give_the_same_rows(tmp_path: Path) -> None:
    _, expected = read_all(SAMPLE)
    raw = SAMPLE.read_bytes()
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + raw)
    gz = tmp_path / "f.csv.gz"
    gz.write_bytes(gzip.compress(raw))
    text = pacsv.read_csv(SAMPLE, convert_options=pacsv.ConvertOptions(
        column_types=dict.fromkeys(expected.column_names, pa.string()),
        strings_can_be_null=False))
    as_json = tmp_path / "f.json"
    as_json.write_text(json.dumps(text.to_pylist()))
    ndjson = tmp_path / "f.ndjson"
    ndjson.write_text("\n".join(json.dumps(row) for row in text.to_pylist()))
    parquet = tmp_path / "f.parquet"
    pq.write_table(expected, parquet)
    for path, fmt in ((bom, Format.CSV), (gz, Format.CSV), (as_json, Format.JSON),
                      (ndjson, Format.JSON), (parquet, Format.PARQUET)):
        reader, table = read_all(path)
        assert reader.format is fmt, path
        assert table.equals(expected), path


def test_json_rows_may_omit_null_fields(tmp_path: Path) -> None:
    _, expected = read_all(SAMPLE)
    text = pacsv.read_csv(SAMPLE, convert_options=pacsv.ConvertOptions(
        column_types=dict.fromkeys(expected.column_names, pa.string())))
    rows = [{k: v for k, v in row.items() if v is not None} for row in text.to_pylist()]
    path = tmp_path / "sparse.json"
    path.write_text(json.dumps(rows))
    _, table = read_all(path)
    assert table.num_rows == expected.num_rows
    assert table.column("BilledCost").equals(expected.column("BilledCost"))


def test_memory_is_bounded_by_batches(tmp_path: Path) -> None:
    lines = SAMPLE.read_text().splitlines(keepends=True)
    big = tmp_path / "big.csv"
    big.write_text(lines[0] + "".join(lines[1:]) * 10)
    with FocusReader(str(big)) as reader:
        sizes = [batch.num_rows for batch in reader.batches()]
    assert sum(sizes) == 20_000
    assert len(sizes) > 1  # streamed in several batches, not one table


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\x00\x01\x02\x03garbage\x00" * 100, "binary data"),
        (b"\xff\xfe\xfa not utf8 at all,\xff\n1,2\n", "not UTF-8"),
        (b"BilledCost,BillingCurrency\n1,USD\n", "lacks FOCUS 1.0 Cost and Usage mandatory"),
        (b"[1, 2, 3]", "expected a JSON object per row"),
    ],
)
def test_malformed_files_give_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_all(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_truncated_json_names_the_row(tmp_path: Path) -> None:
    _, table = read_all(SAMPLE)
    rows = [{k: None if v is None else str(v) for k, v in row.items()}
            for row in table.slice(0, 3).to_pylist()]
    text = json.dumps(rows)
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) - 40])
    with pytest.raises(InputError, match="invalid JSON") as caught:
        read_all(path)
    assert caught.value.row == 3


def test_ragged_row_names_its_row(tmp_path: Path) -> None:
    lines = SAMPLE.read_text().splitlines(keepends=True)
    lines[6] = lines[6].rstrip("\n") + ",extra\n"
    path = tmp_path / "ragged.csv"
    path.write_text("".join(lines))
    with pytest.raises(InputError) as caught:
        read_all(path)
    assert "row 6: expected 57 fields, found 58" in str(caught.value)


def test_bad_value_names_row_and_column(tmp_path: Path) -> None:
    lines = SAMPLE.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    index = header.index("ChargeCategory")
    row = lines[1500].split(",")
    row[index] = "Refund"
    lines[1500] = ",".join(row)
    path = tmp_path / "bad.csv"
    path.write_text("".join(lines))
    with pytest.raises(InputError) as caught:
        read_all(path)
    assert (caught.value.row, caught.value.column) == (1500, "ChargeCategory")


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        FocusReader(str(tmp_path / "nope.csv"))


def test_only_the_empty_field_and_unquoted_null_are_null_never_na_or_quoted_text(
    tmp_path: Path,
) -> None:
    # Arrow's default null list would silently drop "NA" (a region), "N/A" and "nan"; an
    # unquoted NULL is a null (DESIGN 10: the FinOps Foundation's samples write it), a quoted
    # "NULL" is text.
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        header, row = itertools.islice(csv.reader(handle), 2)
    words = {"RegionId": "NA", "RegionName": "N/A", "SubAccountName": "NULL", "SkuId": "nan"}
    for column, word in words.items():
        row[header.index(column)] = word
    path = tmp_path / "words.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, row])
        csv.writer(handle, quoting=csv.QUOTE_ALL).writerow(row)
    _, table = read_all(path)
    assert {column: table.column(column)[0].as_py() for column in words} == {
        **words, "SubAccountName": None}
    assert {column: table.column(column)[1].as_py() for column in words} == words
