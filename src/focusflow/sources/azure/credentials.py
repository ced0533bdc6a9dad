"""Azure bearer tokens obtained in-process: client credentials, cached per resource, never logged.

Layer: ``sources``. ``ClientCredentials`` posts the OAuth 2.0 client-credentials grant to the
Entra ID v2 token endpoint of ``authority_host`` (``AZURE_AUTHORITY_HOST`` for sovereign clouds),
keeps one token per resource (management vs storage: one token cannot serve both), refreshes it
before expiry (lifetimes are a random 60-90 min, so the server's ``expires_in`` is used, never a
fixed hour) and drops a token a server rejected with 401 so the caller's single retry gets a new
one. ``StaticToken`` is Krateo's way: a ready-made ``token`` from the endpoint Secret, re-read by
the caller every cycle.

Why not azure-identity's ``ClientSecretCredential`` here: it offers no way to discard a token a
server refused (its cache hands the same token back until it nears expiry, so "refresh and retry
on 401" cannot be done), and it needs an OpenID discovery round trip per authority. It is still
used where it shines: any ``TokenSource`` is turned into an azure-core credential by
``as_azure_credential`` for the Blob SDK, and ``AzureIdentityTokens`` wraps
``DefaultAzureCredential`` (managed / workload identity) when no client secret is configured.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from focusflow.errors import ConfigError, SourceError, TransientSourceError

log = logging.getLogger(__name__)

MANAGEMENT = "https://management.azure.com"
STORAGE = "https://storage.azure.com"
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
REFRESH_MARGIN_SECONDS = 300.0  # refresh 5 min early, as azure-identity recommends


class TokenSource(Protocol):
    """Hands out bearer tokens per resource (e.g. ``https://management.azure.com``)."""

    def token(self, resource: str) -> SecretStr:
        """A token valid for ``resource`` now; raises ``SourceError`` when none can be had."""
        ...

    def invalidate(self, resource: str, token: SecretStr) -> None:
        """Forget ``token`` (a server answered 401 to it) so the next call fetches a new one."""
        ...


class AzureSettings(BaseSettings):
    """Where and as whom to authenticate; read from the standard ``AZURE_*`` variables."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    tenant_id: str | None = Field(default=None, validation_alias=AliasChoices(
        "AZURE_TENANT_ID", "tenantId"))
    client_id: str | None = Field(default=None, validation_alias=AliasChoices(
        "AZURE_CLIENT_ID", "clientId"))
    client_secret: SecretStr | None = Field(default=None, validation_alias=AliasChoices(
        "AZURE_CLIENT_SECRET", "clientSecret"))
    authority_host: str = Field(default=PUBLIC_AUTHORITY, validation_alias=AliasChoices(
        "AZURE_AUTHORITY_HOST", "authorityHost"))
    resource_manager_url: str = Field(default=MANAGEMENT, validation_alias=AliasChoices(
        "AZURE_RESOURCE_MANAGER_URL", "resourceManagerUrl"))
    # A private CA bundle for the token and management endpoints (TLS verification stays on).
    ca_file: str | None = Field(default=None, validation_alias=AliasChoices(
        "AZURE_CA_FILE", "caFile"))
    timeout_seconds: float = 60.0

    @field_validator("authority_host", "resource_manager_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith("https://"):
            # Tokens and secrets travel on these URLs: plain http would expose them.
            raise ValueError(f"expected an https:// URL, got {value!r}")
        return value

    @property
    def has_client_secret(self) -> bool:
        return bool(self.tenant_id and self.client_id and self.client_secret)


def settings_from_secret(values: Mapping[str, SecretStr], **overrides: Any) -> AzureSettings:
    """Settings from a Kubernetes Secret's keys (``tenantId``/``clientId``/``clientSecret`` or
    the ``AZURE_*`` names); keyword ``overrides`` (CLI flags) win."""
    data: dict[str, Any] = {}
    for key, value in values.items():
        # Files made with `kubectl create secret --from-file` often end in a newline.
        text = value.get_secret_value().strip()
        data[key] = SecretStr(text) if key in {"clientSecret", "AZURE_CLIENT_SECRET"} else text
    data.update({k: v for k, v in overrides.items() if v is not None})
    return AzureSettings.model_validate(data)


@dataclass
class _Cached:
    token: SecretStr
    refresh_at: float
    expires_at: float


class ClientCredentials:
    """Client-credentials tokens (tenant, client id, secret), cached and refreshed per resource."""

    def __init__(
        self, settings: AzureSettings, *, clock: Callable[[], float] = time.time,
        client: httpx.Client | None = None,
    ) -> None:
        if not settings.has_client_secret:
            raise ConfigError("Azure client credentials need AZURE_TENANT_ID, AZURE_CLIENT_ID "
                              "and AZURE_CLIENT_SECRET (or --tenant-id/--client-id/"
                              "--client-secret)")
        self.settings = settings
        self._clock = clock
        verify: Any = True
        if settings.ca_file:
            verify = ssl.create_default_context(cafile=settings.ca_file)
        self._client = client or httpx.Client(timeout=settings.timeout_seconds, verify=verify)
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self.requests = 0  # token requests sent (observability and tests)

    @property
    def who(self) -> str:
        return f"tenant {self.settings.tenant_id}, client id {self.settings.client_id}"

    def token(self, resource: str) -> SecretStr:
        resource = resource.rstrip("/")
        with self._lock:
            cached = self._cache.get(resource)
            now = self._clock()
            if cached is not None and now < cached.refresh_at:
                return cached.token
            try:
                fresh = self._request(resource, now)
            except TransientSourceError:
                if cached is not None and now < cached.expires_at:
                    return cached.token  # a failed early refresh keeps the still-valid token
                raise
            self._cache[resource] = fresh
            return fresh.token

    def invalidate(self, resource: str, token: SecretStr) -> None:
        with self._lock:
            cached = self._cache.get(resource.rstrip("/"))
            if cached is not None and cached.token.get_secret_value() == token.get_secret_value():
                del self._cache[resource.rstrip("/")]

    def _request(self, resource: str, now: float) -> _Cached:
        settings = self.settings
        url = f"{settings.authority_host}/{settings.tenant_id}/oauth2/v2.0/token"
        secret = settings.client_secret.get_secret_value() if settings.client_secret else ""
        form = {"grant_type": "client_credentials", "client_id": settings.client_id or "",
                "client_secret": secret, "scope": f"{resource}/.default"}
        self.requests += 1
        log.debug("requesting an Azure token for %s (%s)", resource, self.who)
        try:
            response = self._client.post(url, data=form)
        except httpx.TimeoutException as exc:
            raise TransientSourceError(f"Azure token endpoint {url}: timed out ({self.who})") \
                from exc
        except httpx.HTTPError as exc:
            raise TransientSourceError(
                f"Azure token endpoint {url}: {type(exc).__name__} ({self.who})") from exc
        if response.status_code != 200:
            raise self._refused(url, response)
        return self._parse(response, url, now)

    def _refused(self, url: str, response: httpx.Response) -> SourceError:
        code, detail = "", ""
        try:
            body = response.json()
            code = str(body.get("error", ""))
            # The first line of the description carries the AADSTS code; later lines hold ids.
            detail = str(body.get("error_description", "")).splitlines()[0][:200]
        except (ValueError, AttributeError, IndexError):
            pass
        secret = self.settings.client_secret
        if secret is not None and secret.get_secret_value():
            detail = detail.replace(secret.get_secret_value(), "***")
        error = TransientSourceError if response.status_code >= 500 or \
            response.status_code == 429 else SourceError
        return error(
            f"Azure token request refused for {self.who}: HTTP {response.status_code}"
            f"{' ' + code if code else ''}{': ' + detail if detail else ''} (endpoint {url})"
        )

    def _parse(self, response: httpx.Response, url: str, now: float) -> _Cached:
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = _seconds(body.get("expires_in"))
            if lifetime is None and body.get("expires_on") is not None:
                lifetime = float(body["expires_on"]) - now
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(f"Azure token endpoint {url}: unexpected answer for {self.who}") \
                from exc
        lifetime = 3600.0 if lifetime is None else max(lifetime, 0.0)
        early = min(REFRESH_MARGIN_SECONDS, lifetime / 2)
        return _Cached(SecretStr(token), now + lifetime - early, now + lifetime)


def _seconds(value: object) -> float | None:
    """``expires_in`` is an int in v2 answers and a string in v1 / managed identity ones."""
    if value is None:
        return None
    return float(value)  # type: ignore[arg-type]


class StaticToken:
    """Krateo's ready-made ``token`` (an endpoint Secret key); the caller re-reads it per cycle."""

    def __init__(self, token: SecretStr) -> None:
        if not token.get_secret_value().strip():
            raise ConfigError("the endpoint Secret's token is empty")
        self._token = SecretStr(token.get_secret_value().strip())

    def token(self, resource: str) -> SecretStr:
        return self._token

    def invalidate(self, resource: str, token: SecretStr) -> None:
        """Nothing to refresh: a rejected static token is reported by the caller."""


class AzureIdentityTokens:
    """Any azure-identity credential (default: ``DefaultAzureCredential``) as a ``TokenSource``.

    For managed or workload identity, where no client secret exists. azure-identity caches.
    """

    def __init__(self, credential: Any = None) -> None:
        if credential is None:
            try:
                from azure.identity import DefaultAzureCredential  # noqa: PLC0415 - optional
            except ImportError as exc:
                from focusflow.errors import MissingExtraError  # noqa: PLC0415

                raise MissingExtraError("azure-identity", "azure") from exc
            credential = DefaultAzureCredential()
        self._credential = credential

    def token(self, resource: str) -> SecretStr:
        from azure.core.exceptions import AzureError  # noqa: PLC0415

        try:
            access = self._credential.get_token(f"{resource.rstrip('/')}/.default")
        except AzureError as exc:
            raise SourceError(f"Azure credential could not get a token for {resource}: "
                              f"{type(exc).__name__}") from exc
        return SecretStr(str(access.token))

    def invalidate(self, resource: str, token: SecretStr) -> None:
        """azure-identity cannot discard a token; its cache refreshes near expiry."""


_SHARED: dict[tuple[str, ...], ClientCredentials] = {}
_SHARED_LOCK = threading.Lock()


def shared_credentials(settings: AzureSettings) -> ClientCredentials:
    """One ``ClientCredentials`` per (authority, tenant, client, secret) in this process, so
    every reader of a run (listing, manifests, each part) shares one cached token."""
    secret = settings.client_secret.get_secret_value() if settings.client_secret else ""
    key = (settings.authority_host, settings.tenant_id or "", settings.client_id or "",
           hashlib.sha256(secret.encode()).hexdigest(), settings.ca_file or "")
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = ClientCredentials(settings)
        return _SHARED[key]


def clear_shared_credentials() -> None:
    """Forget every shared credential (tests; a rotated secret gets a new key anyway)."""
    with _SHARED_LOCK:
        _SHARED.clear()


def token_source(settings: AzureSettings, secret_token: SecretStr | None = None) -> TokenSource:
    """The credential to use: a ready-made token, client credentials, or azure-identity."""
    if secret_token is not None and secret_token.get_secret_value().strip():
        return StaticToken(secret_token)
    if settings.has_client_secret:
        return shared_credentials(settings)
    if settings.tenant_id or settings.client_id or settings.client_secret:
        missing = [name for name, value in (
            ("AZURE_TENANT_ID", settings.tenant_id), ("AZURE_CLIENT_ID", settings.client_id),
            ("AZURE_CLIENT_SECRET", settings.client_secret)) if not value]
        raise ConfigError(f"Azure client credentials are incomplete: {', '.join(missing)} not set")
    return AzureIdentityTokens()


class _CoreCredential:
    """A ``TokenSource`` seen through azure-core's ``TokenCredential`` protocol."""

    def __init__(self, source: TokenSource, clock: Callable[[], float]) -> None:
        self._source = source
        self._clock = clock
        self._last: tuple[str, SecretStr] | None = None

    def get_token(self, *scopes: str, **_: Any) -> Any:
        from azure.core.credentials import AccessToken  # noqa: PLC0415

        resource = scopes[0].removesuffix("/.default") if scopes else STORAGE
        token = self._source.token(resource)
        self._last = (resource, token)
        # The SDK refreshes 5 min before this; our source refreshes on its own schedule.
        return AccessToken(token.get_secret_value(), int(self._clock()) + 600)

    def invalidate_last(self) -> None:
        """The last token handed out was refused (401): drop it from the source's cache."""
        if self._last is not None:
            self._source.invalidate(*self._last)
            self._last = None


def as_azure_credential(source: TokenSource, clock: Callable[[], float] = time.time) -> Any:
    """``source`` as an azure-core ``TokenCredential`` (for the Blob SDK)."""
    return _CoreCredential(source, clock)
