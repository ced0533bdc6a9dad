"""Client-credential tokens against the Azure API emulator (HTTPS, test CA)."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from fixtures.azure_api import CLIENT_ID, CLIENT_SECRET, TENANT, AzureApi
from focusflow.errors import ConfigError, SourceError
from focusflow.sources.azure import (
    MANAGEMENT,
    STORAGE,
    AzureSettings,
    ClientCredentials,
    StaticToken,
    settings_from_secret,
    token_source,
)

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_one_cached_token_per_resource(azure_api: AzureApi, azure_settings: AzureSettings) -> None:
    credentials = ClientCredentials(azure_settings, clock=Clock())
    first = credentials.token(MANAGEMENT)
    assert credentials.token(MANAGEMENT).get_secret_value() == first.get_secret_value()
    storage = credentials.token(STORAGE)
    assert storage.get_secret_value() != first.get_secret_value()
    requests = azure_api.state.token_requests()
    assert len(requests) == 2
    assert [r.body.decode().split("scope=")[1].split("&")[0] for r in requests] == [
        "https%3A%2F%2Fmanagement.azure.com%2F.default",
        "https%3A%2F%2Fstorage.azure.com%2F.default",
    ]
    assert all(r.path == f"/{TENANT}/oauth2/v2.0/token" for r in requests)


def test_refreshes_before_expiry_with_one_request(
    azure_api: AzureApi, azure_settings: AzureSettings,
) -> None:
    azure_api.state.token_lifetime = 4200  # 70 min; the server decides, never a fixed hour
    clock = Clock()
    credentials = ClientCredentials(azure_settings, clock=clock)
    first = credentials.token(MANAGEMENT).get_secret_value()
    clock.now += 4200 - 301  # just outside the 5 min margin: still the same token
    assert credentials.token(MANAGEMENT).get_secret_value() == first
    clock.now += 2  # inside the margin: exactly one new request
    second = credentials.token(MANAGEMENT).get_secret_value()
    assert second != first
    assert credentials.token(MANAGEMENT).get_secret_value() == second
    assert len(azure_api.state.token_requests()) == 2


def test_v1_string_lifetimes_are_accepted(
    azure_api: AzureApi, azure_settings: AzureSettings,
) -> None:
    azure_api.state.token_lifetime = "3599"
    clock = Clock()
    credentials = ClientCredentials(azure_settings, clock=clock)
    credentials.token(MANAGEMENT)
    clock.now += 3000
    credentials.token(MANAGEMENT)
    assert credentials.requests == 1


@pytest.mark.parametrize(("tenant", "secret", "status"), [
    ("99999999-0000-0000-0000-000000000000", CLIENT_SECRET, "HTTP 400 invalid_request"),
    (TENANT, "wrong-secret-value", "HTTP 401 invalid_client"),
])
def test_refused_credentials_name_tenant_and_client_not_secret(
    azure_settings: AzureSettings, caplog: pytest.LogCaptureFixture,
    tenant: str, secret: str, status: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = azure_settings.model_copy(update={"tenant_id": tenant,
                                                 "client_secret": SecretStr(secret)})
    with pytest.raises(SourceError) as caught:
        ClientCredentials(settings).token(MANAGEMENT)
    message = str(caught.value)
    assert f"tenant {tenant}" in message
    assert f"client id {CLIENT_ID}" in message
    assert status in message
    assert "AADSTS" in message
    assert secret not in message
    assert secret not in caplog.text
    assert secret not in repr(settings)


def test_plain_http_authority_is_refused() -> None:
    with pytest.raises(ValueError, match="https"):
        AzureSettings(tenant_id="t", client_id="c", client_secret="s",
                      authority_host="http://login.example")


def test_settings_from_standard_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", "tenant-a")
    monkeypatch.setenv("AZURE_CLIENT_ID", "client-a")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "env-secret")
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/")
    settings = AzureSettings()
    assert settings.tenant_id == "tenant-a"
    assert settings.authority_host == "https://login.microsoftonline.us"
    assert settings.client_secret is not None
    assert "env-secret" not in repr(settings)
    assert isinstance(token_source(settings), ClientCredentials)


def test_settings_from_secret_keys_and_krateo_token() -> None:
    values = {"tenantId": SecretStr("t1"), "clientId": SecretStr("c1"),
              "clientSecret": SecretStr("shh")}
    settings = settings_from_secret(values)
    assert (settings.tenant_id, settings.client_id) == ("t1", "c1")
    krateo = token_source(settings, SecretStr("ready-made\n"))
    assert isinstance(krateo, StaticToken)
    assert krateo.token(MANAGEMENT).get_secret_value() == "ready-made"


def test_incomplete_client_credentials_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="AZURE_CLIENT_SECRET"):
        token_source(AzureSettings(tenant_id="t", client_id="c"))
