"""Where the /rows token comes from: a value, a file read at every use, or nowhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from focusflow.errors import ConfigError
from focusflow.runtime.tokens import file_token, fixed_token, new_token, token_source


def test_a_file_token_is_read_at_every_use(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first\n")
    current = file_token(path)

    def read() -> str:
        value = current()
        assert value is not None
        return value.get_secret_value()

    assert read() == "first"
    path.write_text("second")
    assert read() == "second"
    path.unlink()  # a Secret being swapped: nobody matches, /rows never opens
    assert read() not in ("first", "second", "")


def test_bad_token_settings_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        file_token(tmp_path / "missing")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        file_token(tmp_path / "empty")
    with pytest.raises(ConfigError, match="empty"):
        fixed_token("  ")
    with pytest.raises(ConfigError, match="give one, not both"):
        token_source("x", tmp_path / "empty")
    assert token_source(None, None) is None
    assert new_token().get_secret_value() != new_token().get_secret_value()


def test_exporter_command_refuses_two_token_sources_in_one_line(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("abc")
    config = tmp_path / "cr.yaml"
    config.write_text("exporterConfig: {source: x.csv, pollingInterval: 1h}\n")
    focusflow = str(Path(sys.executable).parent / "focusflow")
    done = subprocess.run([focusflow, "exporter", "--config", str(config), "--rows-token-file",
                           str(token)], env={**os.environ, "FOCUSFLOW_ROWS_TOKEN": "secret-9"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and "give one, not both" in done.stderr
    assert "Traceback" not in done.stderr and "secret-9" not in done.stderr
