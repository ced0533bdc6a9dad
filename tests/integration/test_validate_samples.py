"""``focusflow validate`` on every bundled FOCUS sample: no error-severity findings, exit 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.paths import EXAMPLES, sample_files
from focusflow.focus.validation import Severity, validate

pytestmark = pytest.mark.integration

SAMPLES = sample_files()


def test_there_are_samples() -> None:
    assert len(SAMPLES) >= 5


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_every_sample_has_no_catalogue_errors(sample: Path) -> None:
    # The catalogue is the model's ground truth: a bundled sample it rejects means one of
    # them is wrong. (The requirements model's verdicts: test_validate_conformance.py.)
    report = validate(str(sample))
    errors = [(r.rule_id, r.column, r.rows[:3]) for r in report.failures
              if r.severity is Severity.ERROR]
    assert errors == []
    assert report.rows > 0


@pytest.mark.slow  # the console script imports every command module: seconds on a busy box
def test_console_script_exit_code_and_json(tmp_path: Path) -> None:
    # The real console script in a subprocess: argument parsing, exit code and output as a
    # user gets them.
    result = subprocess.run(
        [str(Path(sys.executable).with_name("focusflow")), "validate", "--no-model",
         str(EXAMPLES / "focus_1_2_cost_and_usage_aws.csv"), "--format", "json",
         "--show-passed"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "FOCUSFLOW_CACHE_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    findings = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert findings
    assert {f["status"] for f in findings} == {"passed"}
