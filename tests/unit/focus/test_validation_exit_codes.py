"""``focusflow validate`` exit codes: 0 clean, 1 error findings, 2 unreadable input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.focus_samples import write_csv
from focusflow.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    # Catalogue rules only: these tests must not depend on a model in the user's cache.
    result = runner.invoke(app, ["validate", "--no-model", *args])
    return result.exit_code, result.output


def test_clean_file_exits_0(tmp_path: Path) -> None:
    code, out = run(str(write_csv(tmp_path / "f.csv")))
    assert code == 0, out
    assert "no findings" in out


def test_error_findings_exit_1_with_rule_column_and_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", {(3, "ChargeCategory"): "Refund"})
    code, out = run(str(path))
    assert code == 1
    assert "ChargeCategory" in out
    assert "values.allowed" in out
    assert "1 row(s): 3" in out


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", {(1, "PricingCurrency"): "CREDITS"})
    code, out = run(str(path))
    assert code == 0, out
    assert "warning" in out


def test_json_output_is_one_object_per_finding(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", {(2, "BilledCost"): "12 USD",
                                          (4, "ChargeCategory"): "Refund"})
    code, out = run(str(path), "--format", "json")
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    by_rule = {(d["rule"], d["column"]): d for d in lines}
    assert by_rule[("values.numeric-format", "BilledCost")]["rows"] == [2]
    assert by_rule[("values.allowed", "ChargeCategory")]["count"] == 1
    assert all(d["status"] == "failed" for d in lines)


def test_gzip_input_is_read(tmp_path: Path) -> None:
    plain = write_csv(tmp_path / "f.csv", {(2, "ChargeCategory"): "Refund"})
    packed = tmp_path / "f.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    code, out = run(str(packed), "--format", "json")
    assert code == 1
    assert json.loads(out.splitlines()[0])["rows"] == [2]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"BilledCost,ChargeCategory\n1,Usage\n\xff\xfe,Usage\n", "UTF-8"),
        (b"\x00\x01\x02\x03binary\x00garbage" * 10, "binary"),
    ],
    ids=["empty", "not-utf8", "binary"],
)
def test_unreadable_input_exits_2(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    code, out = run(str(path))
    assert code == 2, out
    assert expected in out


def test_missing_file_exits_2(tmp_path: Path) -> None:
    code, out = run(str(tmp_path / "nope.csv"))
    assert code == 2
    assert "no such file" in out


def test_ragged_row_exits_2_naming_the_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv")
    lines = path.read_text().splitlines()
    lines[3] = ",".join(lines[3].split(",")[:5])  # data row 3 loses most fields
    path.write_text("\n".join(lines) + "\n")
    code, out = run(str(path))
    assert code == 2
    assert "row 3" in out
    assert "fields" in out
