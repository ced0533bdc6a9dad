"""The scan: one streaming pass counts and names offending rows, whatever the container.

The rows come from the project's Arrow reader, as a load reads them. DuckDB's own ``read_csv``
used to screen local files first; it read ``1, "Usage"`` as ``Usage`` and accepted an extra
trailing field, so the validator passed rows a load refuses. The last tests pin that.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from fixtures.focus_samples import write_csv
from focusflow.errors import InputError
from focusflow.focus.validation import catalogue_rules, scan, validate
from focusflow.focus.validation.findings import Status
from focusflow.focus.validation.scan import open_for_validation, run_checks

EDITS = {(2, "ChargeCategory"): "Refund", (3, "BilledCost"): "1,5", (5, "Tags"): "[1]",
         (4, "ChargePeriodStart"): "2026-05-01", (1, "BillingCurrency"): ""}


def counts(path: Path) -> tuple[int, dict[str, int]]:
    opened = open_for_validation(str(path))
    try:
        checks = [r.check for r in catalogue_rules.row_rules(opened.layout)]
        found = run_checks(opened.text, opened.layout, checks, file=opened.name)
    finally:
        opened.close()
    return found.rows, {k: o.count for k, o in found.outcomes.items() if o.count}


def test_each_broken_cell_is_one_finding(tmp_path: Path) -> None:
    rows, found = counts(write_csv(tmp_path / "f.csv", EDITS, rows=8))
    assert rows == 8
    assert len(found) == 5 and sum(found.values()) == 5


def test_gzip_gives_the_same_findings(tmp_path: Path) -> None:
    plain = write_csv(tmp_path / "f.csv", EDITS, rows=8)
    packed = tmp_path / "f.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert counts(packed) == counts(plain)


def test_a_file_without_rows_passes(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text(write_csv(tmp_path / "f.csv").read_text().splitlines()[0] + "\n")
    assert counts(empty) == (0, {})


def with_raw_cell(tmp_path: Path, column: str, raw: str, row: int = 3) -> Path:
    """A clean sample whose ``column`` in data row ``row`` is the raw CSV text ``raw``."""
    path = write_csv(tmp_path / "f.csv", {(row, column): "\x00"}, rows=5)
    path.write_text(path.read_text().replace("\x00", raw))
    return path


def test_spaces_around_a_quoted_value_are_part_of_the_value(tmp_path: Path) -> None:
    path = with_raw_cell(tmp_path, "ChargeCategory", ' "Usage" ')
    report = validate(str(path))
    failed = [r for r in report.failures if r.column == "ChargeCategory"]
    assert failed and failed[0].status is Status.FAILED and failed[0].rows[:1] == (3,)


def test_an_extra_trailing_field_is_a_ragged_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", rows=5)
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].rstrip("\n") + ",\n"
    path.write_text("".join(lines))
    with pytest.raises(InputError, match=r"row 2: expected \d+ fields"):
        validate(str(path))


@pytest.mark.parametrize(("cpus", "threads"), [(1, 1), (2, 1), (8, 7), (None, 1)])
def test_the_scan_leaves_a_core_to_the_parser_and_the_feed(
    monkeypatch: pytest.MonkeyPatch, cpus: int | None, threads: int,
) -> None:
    # While DuckDB runs the scan, Arrow's parser and the Python thread feeding it the batches
    # keep a core busy: DuckDB gets the others (at least one).
    monkeypatch.setattr(scan.os, "cpu_count", lambda: cpus)
    con = scan._connect()
    try:
        assert con.execute("SELECT current_setting('threads')").fetchone() == (threads,)
    finally:
        con.close()
