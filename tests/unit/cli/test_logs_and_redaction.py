"""One redaction layer and machine-readable logs (issue 15 items 4-5), through the real CLI.

Before: ``--log-json`` formatted messages with ``%``-substitution into a JSON template (a quote
or newline broke the object), library loggers logged request URLs with their query strings at
INFO, ``ingest`` had no ``--log-level`` and printed nothing outside a terminal.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from focusflow import redaction
from focusflow.cli import logs

FOCUSFLOW = Path(sys.executable).with_name("focusflow")


@pytest.mark.parametrize(("text", "secret"), [
    ("GET https://bob:pa55-w0rd@prom.example/api/v1/query", "pa55-w0rd"),
    ("https://acct.blob.core.windows.net/c/f.csv?sv=2024&sig=Zm9vYmFy%3D&se=2030", "Zm9vYmFy%3D"),
    ("https://s3/x?X-Amz-Signature=deadbeefcafe&X-Amz-Date=1", "deadbeefcafe"),
    ("host=db user=u password=s3cr3t-pw dbname=x", "s3cr3t-pw"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload", "eyJhbGciOiJIUzI1NiJ9.payload"),
    ("http://h/rows?token=tok-123456&format=csv", "tok-123456"),
])
def test_redact_cuts_secrets_by_shape(text: str, secret: str) -> None:
    out = redaction.redact(text)
    assert secret not in out
    assert redaction.MASK in out


@pytest.mark.parametrize("text", [
    "design=blue, ServiceName=Token Exchange Service, Basic Support Plan",
    "https://prometheus.example:9090/api/v1/query?query=up&time=1",
    '{"Tags": {"team": "auth"}}  ChargeDescription: password reset emails',
])
def test_redact_leaves_data_alone(text: str) -> None:
    assert redaction.redact(text) == text


def test_known_values_and_secret_environment_are_cut_anywhere() -> None:
    redaction.remember_environment({
        "MY_DB_PASSWORD": "planted-env-pw", "PROMETHEUS_URL": "http://u:planted-url-pw@h:9090",
        "HOME": "/root",
    })
    out = redaction.redact("failed: planted-env-pw and planted-url-pw alone, home /root")
    assert "planted" not in out
    assert "/root" in out  # ordinary values stay


def test_json_logs_are_one_object_per_line_with_library_records_and_exceptions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.setup_logging("INFO", json_format=True)
    try:
        logging.getLogger("some.library").warning('quote " and\nnewline; url %s',
                                                  "http://u:pw-leaked@h/?sig=abcdef")
        try:
            _hang_up()
        except BrokenPipeError:
            logging.getLogger("focusflow.x").exception("serving failed")
        logging.getLogger("httpx").info("HTTP Request: GET http://h/?token=abcdef")  # quiet
    finally:
        logs.setup_logging("INFO", json_format=False)
    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["logger"] for r in records] == ["some.library", "focusflow.x"]
    assert "pw-leaked" not in lines[0] and "abcdef" not in lines[0]
    assert records[0]["msg"].startswith('quote " and\nnewline')
    assert "BrokenPipeError: client went away" in records[1]["exc"]


def _hang_up() -> None:
    raise BrokenPipeError("client went away")


def test_a_wrong_log_level_is_one_line() -> None:
    result = subprocess.run([str(FOCUSFLOW), "summary", "--log-level", "LOUD"],
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error: --log-level 'LOUD': expected one of DEBUG, INFO, WARNING, ERROR"]


def test_ingest_outside_a_terminal_logs_progress_and_errors_as_json(tmp_path: Path) -> None:
    sample = Path(__file__).parents[3] / "examples" / "data" / "focus_1_2_cost_and_usage_aws.csv"
    header, _, body = sample.read_bytes().partition(b"\n")
    big = tmp_path / "big.csv"
    big.write_bytes(header + b"\n" + body * 20)
    db = f"duckdb:///{tmp_path / 'x.duckdb'}"
    env = {"FOCUSFLOW_PROGRESS_SECONDS": "0"}
    result = subprocess.run(
        [str(FOCUSFLOW), "ingest", str(big), "--db", db, "--log-json", "--log-level", "INFO"],
        capture_output=True, text=True, check=False, env={**_env(), **env})
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    progress = [r for r in records if r["logger"] == "focusflow.progress"]
    assert progress and {"rows", "bytes", "rate"} <= progress[-1].keys()
    missing = subprocess.run(
        [str(FOCUSFLOW), "ingest", str(tmp_path / "nope.csv"), "--db", db, "--log-json"],
        capture_output=True, text=True, check=False, env=_env())
    assert missing.returncode == 2  # unreadable input
    (error,) = [json.loads(line) for line in missing.stderr.splitlines()]
    assert error["level"] == "ERROR" and "nope.csv" in error["msg"]


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200"}
