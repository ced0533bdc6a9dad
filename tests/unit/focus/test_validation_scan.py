"""The scan: DuckDB's parallel CSV reader and the streaming reader agree; odd files fall back."""

from __future__ import annotations

import gzip
from pathlib import Path

from fixtures.focus_samples import write_csv
from focusflow.focus.validation import catalogue_rules
from focusflow.focus.validation.scan import open_for_validation, run_checks, screen_natively

EDITS = {(2, "ChargeCategory"): "Refund", (3, "BilledCost"): "1,5", (5, "Tags"): "[1]",
         (4, "ChargePeriodStart"): "2026-05-01", (1, "BillingCurrency"): ""}


def both(path: Path) -> tuple[set[str] | None, dict[str, int]]:
    """The checks the native screen finds failing, and the streaming pass's counts."""
    opened = open_for_validation(str(path))
    try:
        checks = [r.check for r in catalogue_rules.row_rules(opened.layout)]
        assert opened.native_csv is not None
        native = screen_natively(opened.native_csv, opened.layout, checks)
        streamed = run_checks(opened.text, opened.layout, checks, file=opened.name)
    finally:
        opened.close()
    counts = {k: o.count for k, o in streamed.outcomes.items()}
    if native is not None:
        assert native.rows == streamed.rows
    return (None if native is None else set(native.failing)), counts


def test_native_and_streaming_passes_agree(tmp_path: Path) -> None:
    native, streamed = both(write_csv(tmp_path / "f.csv", EDITS, rows=8))
    assert native == {k for k, count in streamed.items() if count}
    assert sum(streamed.values()) == 5
    assert len(native) == 5


def test_gzip_is_read_natively_too(tmp_path: Path) -> None:
    plain = write_csv(tmp_path / "f.csv", EDITS, rows=8)
    packed = tmp_path / "f.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    native, streamed = both(packed)
    assert native == {k for k, count in streamed.items() if count}
    assert len(native) == 5


def test_a_ragged_file_falls_back_to_streaming(tmp_path: Path) -> None:
    clean = write_csv(tmp_path / "clean.csv", rows=8)
    ragged = tmp_path / "ragged.csv"
    lines = clean.read_text().splitlines()
    for index in (3, 6):  # one row too long after a quoted field, one too short
        lines[index] = lines[index] + ",extra" if index == 6 else lines[index].rsplit(",", 9)[0]
        ragged.write_text("\n".join(lines) + "\n")
        opened = open_for_validation(str(clean))
        try:
            checks = [r.check for r in catalogue_rules.row_rules(opened.layout)]
            # DuckDB refuses the file, so the exact streaming reader reports it.
            assert screen_natively(ragged, opened.layout, checks) is None
        finally:
            opened.close()
        lines = clean.read_text().splitlines()


def test_a_file_without_rows_passes_both_ways(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text(write_csv(tmp_path / "f.csv").read_text().splitlines()[0] + "\n")
    native, streamed = both(empty)
    assert native == set()
    assert sum(streamed.values()) == 0
