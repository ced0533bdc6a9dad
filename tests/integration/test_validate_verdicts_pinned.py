"""Every verdict of the validator pinned: real samples and a file broken in every column.

Guards the engine's speed work (issue 8): the compiled SQL may change shape, the verdicts may
not. For every FOCUS sample and a generated file where each column of each row is broken in
one way (empty, blank, text in numbers, bad dates, nested or duplicate-key JSON, unknown codes,
a SkuPriceId with two SkuIds, ...), the full per-rule list (status, severity, offending row
count, first row numbers, skip reason) must equal the golden file, with and without
``--applicable all``. The broken file is checked as CSV (DuckDB's parallel counting pass, then
the streaming pass naming rows) and as Parquet (the streaming pass alone), and the per-row
answer ``ingest --skip-invalid`` uses is pinned too.

Regenerate the golden file (only when a verdict change is intended, and say why in the commit):
``FOCUSFLOW_PIN_VERDICTS=write pytest tests/integration/test_validate_verdicts_pinned.py``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fixtures.paths import EXAMPLES, REPO
from focusflow.focus import formats
from focusflow.focus.validation import (
    Report,
    RequirementsModel,
    Status,
    ValidateOptions,
    offending_rows,
    scan,
    validate,
    windowed,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # ~22 validations: seconds

GOLDEN = Path(__file__).parent / "golden" / "validate_verdicts.json"
SHARED = REPO.parent / "shared" / "data"
SAMPLES = sorted({p.name: p for p in [*SHARED.rglob("*focus_1_*.csv"),
                                       *EXAMPLES.glob("*focus_1_*.csv"),
                                       *(REPO / "tests" / "data").rglob("*focus_1_*.csv")]
                  }.values())
ENCODE = windowed.WindowedFacts._encode
MODES = {"default": frozenset(), "all": frozenset({"all"})}
# One way to break a cell per entry; each column gets each of them in its own row.
BREAKS = (
    "", " ", "garbage", "-1", "0", "1.5E3", "+1", "1,000", "1e", ".5", "NaN",
    "2024-13-01T00:00:00Z", "2024-01-01 00:00:00", "2024-01-01T00:00:00Z", "2099-01-01T00:00:00Z",
    '{"a": {"b": 1}}', '{"a": 1, "a": 2}', "[1, 2]", '{"k": "v"}', "{bad json", "null",
    "XYZ", "USD", "usd", "Usage", "Tax", "Purchase", "Compute", "Correction", "Used",
    "Hours", "1 Hour/Day", "GB-Hours", "Hours ", "Other (Other)",
    "\u00a0", "\t", " x", "\u3000", "\u00e9", "~", "{}", '{"a": 1, "b": [1]}',
    '{"a": 1, "b": 2, "a": 3}', "2024-02-30T00:00:00Z", "2024-01-01T24:00:00Z",
)
def broken_rows() -> tuple[list[str], list[list[str]]]:
    """Header and rows: the providers' first rows in turn, one cell broken per row."""
    bases: list[list[str]] = []
    header: list[str] = []
    for sample in sorted(EXAMPLES.glob("focus_1_2_cost_and_usage_*.csv")):
        with sample.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            bases += [next(reader) for _ in range(3)]
    rows = []
    for c, _ in enumerate(header):
        for b, value in enumerate(BREAKS):
            row = list(bases[(c + b) % len(bases)])
            row[c] = value
            rows.append(row)
    return header, rows


@pytest.fixture(scope="module")
def broken_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    header, rows = broken_rows()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("pinned") / "broken_focus_1_2.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def broken_parquet(broken_csv: Path) -> Path:
    header, rows = broken_rows()
    table = pa.table({name: pa.array([r[i] for r in rows], pa.string())
                      for i, name in enumerate(header)})
    path = broken_csv.with_suffix(".parquet")
    pq.write_table(table, path)
    return path


def summary(report: Report) -> dict[str, Any]:
    """The report as plain data: every rule's verdict (failures in full, in report order)."""
    skipped: dict[str, list[str]] = {}
    for r in report.results:
        if r.status is Status.SKIPPED:
            skipped.setdefault(r.reason, []).append(f"{r.rule_id} {r.column}")
    return {
        "rows": report.rows,
        "version": report.version,
        "model": report.model_version,
        "overrides": report.overrides_applied,
        "notes": report.notes,
        "passed": " ".join(f"{r.rule_id}:{r.column}" for r in report.results
                           if r.status is Status.PASSED),
        "skipped": {reason: ", ".join(rules) for reason, rules in skipped.items()},
        "failed": [
            [r.rule_id, r.column, r.source, r.severity.value, r.count, list(r.rows), r.reason,
             r.composite]
            for r in report.results if r.status is Status.FAILED
        ],
    }


def current(model: RequirementsModel, broken_csv: Path, broken_parquet: Path) -> dict[str, Any]:
    pinned: dict[str, Any] = {}
    for mode, applicable in MODES.items():
        options = ValidateOptions(model=model, applicable=applicable)
        for sample in SAMPLES:
            pinned[f"{sample.name} [{mode}]"] = summary(validate(str(sample), options))
        pinned[f"broken.csv [{mode}]"] = summary(validate(str(broken_csv), options))
        pinned[f"broken.parquet [{mode}]"] = summary(validate(str(broken_parquet), options))
        pinned[f"broken.csv offending rows [{mode}]"] = {
            str(row): result.rule_id
            for row, result in offending_rows(str(broken_csv), options).items()
        }
    pinned["broken.csv [catalogue only]"] = summary(validate(str(broken_csv)))
    return pinned


@pytest.fixture(scope="module")
def verdicts(focus_model: RequirementsModel, broken_csv: Path,
             broken_parquet: Path) -> dict[str, Any]:
    found = current(focus_model, broken_csv, broken_parquet)
    if os.environ.get("FOCUSFLOW_PIN_VERDICTS") == "write":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    # Through JSON, so tuples and lists compare alike.
    result: dict[str, Any] = json.loads(json.dumps(found))
    return result


def golden() -> dict[str, Any]:
    if not GOLDEN.exists():  # first write: test_every_case_is_pinned then fails
        return {}
    data: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


def test_there_is_something_to_pin() -> None:
    assert len(SAMPLES) >= 5
    header, rows = broken_rows()
    assert len(rows) == len(header) * len(BREAKS)


def test_the_broken_file_fails_many_rules(verdicts: dict[str, Any]) -> None:
    # The pin is only worth something if the broken file exercises the row-level rules.
    failed = [r for r in verdicts["broken.csv [all]"]["failed"] if not r[7]]
    assert len(failed) >= 100
    assert len(verdicts["broken.csv offending rows [all]"]) > 900


def test_every_case_is_pinned(verdicts: dict[str, Any]) -> None:
    assert sorted(verdicts) == sorted(golden())


@pytest.mark.parametrize("key", sorted(golden()))
def test_verdicts_unchanged(verdicts: dict[str, Any], key: str) -> None:
    assert verdicts[key] == golden()[key]


def test_windows_cutting_the_file_anywhere_give_the_same_verdicts(
    focus_model: RequirementsModel, broken_parquet: Path, verdicts: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Dates and JSON are judged once per distinct value of a window of rows (windowed.py):
    # batches of 37 rows, windows of about two batches, must change no verdict.
    monkeypatch.setattr(formats, "PARQUET_BATCH_ROWS", 37)
    monkeypatch.setattr(windowed, "WINDOW_BYTES", 50_000)
    cut = []
    monkeypatch.setattr(windowed.WindowedFacts, "_encode", staticmethod(
        lambda window, position: cut.append(len(window)) or ENCODE(window, position)))
    options = ValidateOptions(model=focus_model, applicable=MODES["all"])
    found = json.loads(json.dumps(summary(validate(str(broken_parquet), options))))
    assert found == verdicts["broken.parquet [all]"]
    assert len(cut) > 20 and max(cut) < 5  # many windows, each of a few batches


def test_streaming_and_native_passes_agree(verdicts: dict[str, Any]) -> None:
    for mode in MODES:
        assert verdicts[f"broken.csv [{mode}]"] == verdicts[f"broken.parquet [{mode}]"]


def test_shared_conditions_give_the_verdicts_of_unshared_predicates(
    focus_model: RequirementsModel, broken_csv: Path, broken_parquet: Path,
    verdicts: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A condition several model rules start with ("ChargeCategory is Tax", ...) is computed
    # once per row (issue 16): every sample, the broken file (CSV, Parquet, per-row answer)
    # and both applicability modes must give exactly what each predicate alone gives.
    shared: list[int] = []
    plan = scan._Plan.__init__

    def spy(self: scan._Plan, checks: Any) -> None:
        plan(self, checks)
        shared.append(len(self.conditions))

    monkeypatch.setattr(scan._Plan, "__init__", spy)
    with_sharing = json.loads(json.dumps(current(focus_model, broken_csv, broken_parquet)))
    assert with_sharing == verdicts
    assert max(shared) >= 10  # the 1.2 model's conditions are shared, not just a few
    monkeypatch.setattr(scan, "SHARE_CONDITIONS", False)
    shared.clear()
    unshared = json.loads(json.dumps(current(focus_model, broken_csv, broken_parquet)))
    assert shared and max(shared) == 0
    assert unshared == verdicts
