"""Calls to Azure Resource Manager (Cost Management, Monitor) with auth and throttling rules.

Layer: ``sources``. ``ArmClient.request`` adds the management token, retries once with a new
token on 401, and on 429/503 waits the **maximum** of every ``x-ms-ratelimit-*-retry-after``
header and ``Retry-After`` (azure-core's retry policy reads neither the Cost Management headers
nor retries a throttled POST), with a floor (quota windows are about a minute) and a cap on
attempts. Errors name the URL without its query and Azure's error code, never a token.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from focusflow.errors import SourceError, TransientSourceError
from focusflow.sources.azure.credentials import AzureSettings, TokenSource

log = logging.getLogger(__name__)

_THROTTLED = {429, 503}
_TRANSIENT = {408, 500, 502, 504}


@dataclass(frozen=True)
class RetryRules:
    """How throttling is handled: floor and cap of a wait, attempts, and the ClientType header."""

    min_wait_seconds: float = 30.0
    max_wait_seconds: float = 300.0
    max_attempts: int = 5
    # Undocumented header that moves calls out of the shared "Default" quota bucket.
    client_type: str | None = "focusflow"


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The longest wait any retry-after header asks for (seconds), or None when none does."""
    waits: list[float] = []
    for name, value in headers.items():
        lowered = name.lower()
        if not (lowered == "retry-after" or (lowered.startswith("x-ms-ratelimit-")
                                              and lowered.endswith("retry-after"))):
            continue
        try:
            waits.append(float(value.strip()))
        except ValueError:
            continue  # an HTTP-date Retry-After: the floor applies
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if name in headers:
            with contextlib.suppress(ValueError):
                waits.append(float(headers[name]) / 1000)
    return max(waits) if waits else None


def shown(url: str) -> str:
    """``url`` without query string (a SAS or skip token) for messages."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class ArmClient:
    """A small Resource Manager client: JSON requests with token, 401 and throttling handling."""

    def __init__(
        self, credential: TokenSource, settings: AzureSettings | None = None, *,
        rules: RetryRules | None = None, sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | bool | None = None,
    ) -> None:
        self.settings = settings or AzureSettings()
        self.credential = credential
        self.rules = rules or RetryRules()
        self._sleep = sleep
        if verify is None:
            verify = True
            if self.settings.ca_file:
                verify = ssl.create_default_context(cafile=self.settings.ca_file)
        self._client = httpx.Client(timeout=self.settings.timeout_seconds, verify=verify,
                                    transport=transport)
        self.resource = self.settings.resource_manager_url

    def url(self, path: str) -> str:
        """An absolute URL for a Resource Manager ``path`` (``/subscriptions/...``)."""
        return f"{self.resource}/{path.lstrip('/')}"

    def close(self) -> None:
        self._client.close()

    def request(
        self, method: str, url: str, *, json: Any = None, params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send; return a 2xx response. Raises ``SourceError``/``TransientSourceError``."""
        refreshed = False
        attempt = 1
        while True:
            token = self.credential.token(self.resource)
            response = self._send(method, url, token, json, params)
            if response.status_code == 401 and not refreshed:
                # An expired or revoked token: one new token, one retry.
                log.info("Resource Manager answered 401 for %s; retrying with a new token",
                         shown(url))
                self.credential.invalidate(self.resource, token)
                refreshed = True
                continue
            if response.status_code in _THROTTLED | _TRANSIENT and \
                    attempt < self.rules.max_attempts:
                self._sleep(self._wait(response, url, attempt))
                attempt += 1
                continue
            if response.status_code >= 400:
                raise _error(response, url, attempts=attempt)
            return response

    def _send(
        self, method: str, url: str, token: SecretStr, body: Any,
        params: Mapping[str, str] | None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token.get_secret_value()}",
                   "Accept": "application/json"}
        if self.rules.client_type:
            headers["ClientType"] = self.rules.client_type
        try:
            return self._client.request(method, url, json=body, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientSourceError(f"{shown(url)}: timed out") from exc
        except httpx.HTTPError as exc:
            raise TransientSourceError(f"{shown(url)}: {type(exc).__name__}") from exc

    def _wait(self, response: httpx.Response, url: str, attempt: int) -> float:
        advertised = retry_after_seconds(response.headers)
        if response.status_code in _TRANSIENT and advertised is None:
            wait = min(2.0 ** attempt, self.rules.max_wait_seconds)
        else:
            wait = min(max(advertised or 0.0, self.rules.min_wait_seconds),
                       self.rules.max_wait_seconds)
        remaining = response.headers.get(
            "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining", "-")
        log.warning("%s: HTTP %d, waiting %.1f s before attempt %d (advertised %s, qpu "
                    "remaining %s)", shown(url), response.status_code, wait, attempt + 1,
                    advertised, remaining)
        return wait


def _error(response: httpx.Response, url: str, *, attempts: int) -> SourceError:
    code, message = "", ""
    try:
        error = response.json().get("error", {})
        code, message = str(error.get("code", "")), str(error.get("message", ""))[:300]
    except (ValueError, AttributeError):
        pass
    status = response.status_code
    after = f" after {attempts} attempts" if attempts > 1 else ""
    text = (f"{shown(url)}: HTTP {status}{' ' + code if code else ''}"
            f"{': ' + message if message else ''}{after}")
    if status == 401:
        text += " (the token was refused; check the credential and its role assignments)"
    elif status == 403:
        text += " (the identity lacks a role on this scope, e.g. Cost Management Reader)"
    elif status == 404:
        text += " (unknown scope or resource)"
    kind = TransientSourceError if status in _THROTTLED | _TRANSIENT else SourceError
    return kind(text)
