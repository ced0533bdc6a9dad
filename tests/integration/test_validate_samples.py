"""``focusflow validate`` on every bundled FOCUS sample: no error-severity findings, exit 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.paths import sample_files

pytestmark = pytest.mark.integration

SAMPLES = sample_files()


def test_there_are_samples() -> None:
    assert len(SAMPLES) >= 5


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_every_sample_validates_clean(sample: Path) -> None:
    # The real console script in a subprocess: argument parsing, exit code and output as a
    # user gets them.
    result = subprocess.run(
        [str(Path(sys.executable).with_name("focusflow")), "validate", str(sample),
         "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    findings = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    errors = [f for f in findings if f["severity"] == "error"]
    assert errors == []
    assert result.returncode == 0, result.stderr
