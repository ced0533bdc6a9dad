"""Which requirements model ``focusflow validate`` checks a file with, and how often it opens it.

The cached model is chosen from the FOCUS version of the file's header, read as the file is
opened for the scan: the file is opened once (a first opening only to read the version started
Arrow's parallel read-ahead and threw it away). Without a cached model the catalogue rules
still run, with a note naming ``rules fetch``; ``--applicable`` then is an error. The file is
the bundled Azure FOCUS 1.2 sample.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fixtures.cli import in_process_cli
from fixtures.paths import EXAMPLES
from focusflow.cli import app
from focusflow.focus.validation import scan

SAMPLE = EXAMPLES / "focus_1_2_cost_and_usage_azure.csv"
runner = CliRunner()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The locations the validator opens, in order."""
    seen: list[str] = []
    real = scan.open_location

    def counting(uri: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(uri)
        return real(uri, *args, **kwargs)

    monkeypatch.setattr(scan, "open_location", counting)
    return seen


def test_the_cached_model_is_chosen_from_the_header_and_the_file_opened_once(
    focus_rules_env: Path, opened: list[str],
) -> None:
    result = runner.invoke(app, ["validate", str(SAMPLE), "--format", "json", "--show-passed"])
    assert result.exit_code in (0, 1), result.output
    sources = {json.loads(line)["source"] for line in result.stdout.splitlines()}
    assert sources == {"catalogue", "model"}
    assert opened == [str(SAMPLE)]


def test_without_a_cached_model_the_catalogue_rules_run_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened: list[str],
) -> None:
    monkeypatch.setenv("FOCUSFLOW_CACHE_DIR", str(tmp_path / "empty-cache"))
    result = runner.invoke(app, ["validate", str(SAMPLE), "--format", "json", "--show-passed"])
    assert result.exit_code == 0, result.output
    assert "no FOCUS 1.2 requirements model cached" in result.stderr
    assert "rules fetch" in result.stderr
    sources = {json.loads(line)["source"] for line in result.stdout.splitlines()}
    assert sources == {"catalogue"}
    assert opened == [str(SAMPLE)]


def test_applicable_criteria_without_a_cached_model_are_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FOCUSFLOW_CACHE_DIR", str(tmp_path / "empty-cache"))
    code, out, err = in_process_cli(monkeypatch, capsys)(
        "validate", SAMPLE, "--applicable", "all")
    assert code == 1, err  # a usage mistake (ConfigError), said in one line
    assert "--applicable selects rules of the FOCUS requirements model" in err
    assert "no FOCUS 1.2 model is cached" in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""
