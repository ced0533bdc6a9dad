"""Krateo endpoint machinery: Go durations, <var> substitution, endpoint Secrets, secret dirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from focusflow.errors import ConfigError, SourceError
from focusflow.sources import (
    ApiConfig,
    DirectorySecretStore,
    Endpoint,
    parse_duration,
    substitute,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("1h", 3600), ("1h30m", 5400), ("1.5h", 5400), ("300ms", 0.3),
    ("2h45m10s", 9910), ({"duration": "1h0m0s"}, 3600), (90, 90), ("0", 0),
])
def test_go_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1x", "h", "1h 30m", "ten minutes", True, {"x": 1}])
def test_bad_durations_name_the_field(text: object) -> None:
    with pytest.raises(ConfigError, match="pollingInterval"):
        parse_duration(text, field="pollingInterval")


def test_variables_follow_krateo_with_the_r8_fix() -> None:
    env = {"WEBSERVICE_HOST": "10.0.0.7"}
    variables = {"host": "WEBSERVICE_HOST", "port": "8080", "day": "2025-06-01",
                 "loop": "<host>", "account": "mystorage"}
    text = "http://<host>:<port>/<account>/<day>/<loop>/<missing>"
    # Upper-case names read the environment; digits and dates stay literal (Krateo would
    # blank them); substituted text is not scanned again; a missing key becomes "".
    assert substitute(text, variables, env) == "http://10.0.0.7:8080/mystorage/2025-06-01/<host>/"


def test_endpoint_secret_keys() -> None:
    secret = {"server-url": SecretStr("https://api.example.test/"), "token": SecretStr("t0k"),
              "insecure": SecretStr("TRUE"), "proxy-url": SecretStr("")}
    endpoint = Endpoint.from_secret(secret, where="endpoint secret ns/x")
    assert endpoint.url_for("/v1/report.csv") == "https://api.example.test/v1/report.csv"
    assert endpoint.insecure is True and endpoint.ssl_context() is False
    assert endpoint.token is not None and "t0k" not in repr(endpoint)


def test_endpoint_secret_rejects_two_auth_modes_and_missing_url() -> None:
    with pytest.raises(ConfigError, match="only one of username/password, bearer token"):
        Endpoint.from_secret({"server-url": SecretStr("http://x"), "token": SecretStr("a"),
                              "password": SecretStr("b")}, where="s")
    with pytest.raises(ConfigError, match="server-url is missing"):
        Endpoint.from_secret({"token": SecretStr("a")}, where="endpoint secret ns/x")


def test_tls_verification_is_on_by_default() -> None:
    endpoint = Endpoint.from_secret({"server-url": SecretStr("https://x")}, where="s")
    context = endpoint.ssl_context()
    assert context is not False and not isinstance(context, bool)
    assert context.verify_mode.name == "CERT_REQUIRED"


def test_api_block_headers_and_verb() -> None:
    api = ApiConfig.model_validate({"path": "/a", "verb": "post",
                                    "headers": ["x-ms-version: 2017-11-09", "A:b:c"],
                                    "endpointref": {"name": "e", "namespace": "ns"}})
    assert api.verb == "POST" and api.endpoint_ref is not None
    assert api.header_map() == {"x-ms-version": "2017-11-09", "A": "b:c"}
    with pytest.raises(ConfigError, match="headers"):
        ApiConfig.parse({"headers": ["no colon"]}, where="api")


def test_secret_directory_layout(tmp_path: Path) -> None:
    folder = tmp_path / "krateo-system" / "endpoint"
    folder.mkdir(parents=True)
    (folder / "server-url").write_text("http://127.0.0.1:1")
    (folder / "token").write_text("abc")
    (folder / "..data").mkdir()  # kubelet's plumbing is ignored
    store = DirectorySecretStore(tmp_path)
    values = store.get("krateo-system", "endpoint")
    assert {k: v.get_secret_value() for k, v in values.items()} == {
        "server-url": "http://127.0.0.1:1", "token": "abc"}
    with pytest.raises(SourceError, match="not found"):
        store.get("krateo-system", "missing")
    with pytest.raises(ConfigError):
        store.get("..", "x")
