"""Azure Blob storage as a report location: ``az://<container>/<path>`` and blob https URLs.

Layer: ``sources``. Account and credential come from ``BlobSettings`` (the standard
``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT`` with a SAS token, an account
key or the Entra ID credential of ``credentials.py`` via a storage-scoped token). An
``https://<account>.blob.core.<cloud>/<container>/<path>[?<SAS>]`` URL names the account itself.
Blobs are read with azure-storage-blob (imported lazily: only blob reads pay for it) and
streamed chunk by chunk; SDK errors are wrapped here and never carry a SAS or key.

Internally a blob is addressed as ``az://<container>/<path>?endpoint=<account url>&<SAS>``
so that part lists (manifests) can name blobs of any account; messages show
``display`` (the https form or ``az://container/path``), never the query.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from focusflow.errors import ConfigError, MissingExtraError, SourceError, TransientSourceError
from focusflow.focus import HttpOptions, Opened
from focusflow.focus.streams import IteratorStream
from focusflow.sources.azure.credentials import (
    STORAGE,
    AzureSettings,
    StaticToken,
    TokenSource,
    as_azure_credential,
    token_source,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

_BLOB_HOST = re.compile(r"^[a-z0-9]{3,24}\.blob\.core\.[a-z0-9.-]+$")


class BlobSettings(BaseSettings):
    """How to reach the storage account (standard variable names)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    connection_string: SecretStr | None = Field(default=None, validation_alias=AliasChoices(
        "AZURE_STORAGE_CONNECTION_STRING", "connectionString"))
    account_name: str | None = Field(default=None, validation_alias=AliasChoices(
        "AZURE_STORAGE_ACCOUNT", "accountName"))
    account_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices(
        "AZURE_STORAGE_KEY", "accountKey"))
    sas_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices(
        "AZURE_STORAGE_SAS_TOKEN", "sasToken"))
    # The blob endpoint when it is not https://<account>.blob.core.windows.net (sovereign
    # clouds, private endpoints).
    account_url: str | None = Field(default=None, validation_alias=AliasChoices(
        "AZURE_STORAGE_ACCOUNT_URL", "accountUrl"))


@dataclass(frozen=True)
class BlobRef:
    """One blob (or prefix) and where its account lives."""

    container: str
    path: str
    endpoint: str | None = None  # account URL; None: from settings
    sas: str | None = None  # SAS query from an https URL (a credential: never shown)

    @property
    def display(self) -> str:
        if self.endpoint:
            return f"{self.endpoint}/{self.container}/{self.path}"
        return f"az://{self.container}/{self.path}"

    def child(self, name: str) -> BlobRef:
        """The blob ``name`` (a full path inside the container) of the same account."""
        return BlobRef(self.container, name, self.endpoint, self.sas)

    def uri(self) -> str:
        """The internal ``az://`` URI that ``open_blob`` (the ``az`` scheme) reads."""
        query: list[tuple[str, str]] = []
        if self.endpoint:
            query.append(("endpoint", self.endpoint))
        if self.sas:
            query.extend(parse_qsl(self.sas, keep_blank_values=True))
        suffix = f"?{urlencode(query)}" if query else ""
        return f"az://{self.container}/{quote(self.path)}{suffix}"


def _configured_account(uri: str) -> str | None:
    """The ``AZURE_STORAGE_ACCOUNT_URL`` that ``uri`` lies under (private endpoints, Azurite)."""
    account = BlobSettings().account_url
    if account and uri.startswith(account.rstrip("/") + "/"):
        return account.rstrip("/")
    return None


def is_blob_url(uri: str) -> bool:
    """True for ``az://`` URIs, ``https://<account>.blob.core.<cloud>/`` URLs and https URLs
    under the configured ``AZURE_STORAGE_ACCOUNT_URL``."""
    parts = urlsplit(uri)
    if parts.scheme == "az":
        return True
    return parts.scheme == "https" and (bool(_BLOB_HOST.match(parts.hostname or ""))
                                        or _configured_account(uri) is not None)


def parse_blob_uri(uri: str) -> BlobRef:
    """A ``BlobRef`` for an ``az://`` URI or a blob https URL; ``ConfigError`` otherwise."""
    parts = urlsplit(uri)
    if parts.scheme == "az":
        params = parse_qsl(parts.query, keep_blank_values=True)
        endpoint = next((v for k, v in params if k == "endpoint"), None)
        sas = urlencode([(k, v) for k, v in params if k != "endpoint"]) or None
        container, path = parts.netloc, unquote(parts.path.lstrip("/"))
    elif is_blob_url(uri):
        endpoint = _configured_account(uri) or f"https://{parts.netloc}"
        rest = urlsplit(uri[len(endpoint):]).path if uri.startswith(endpoint) else parts.path
        segments = rest.lstrip("/").split("/", 1)
        container, path = segments[0], unquote(segments[1]) if len(segments) > 1 else ""
        sas = parts.query or None
    else:
        raise ConfigError(f"{uri.split('?', maxsplit=1)[0]}: not an Azure Blob location")
    if not container:
        raise ConfigError(f"{uri.split('?', maxsplit=1)[0]}: expected az://<container>/<path>")
    return BlobRef(container, path, endpoint, sas)


def _sdk() -> Any:
    try:
        from azure.storage import blob  # noqa: PLC0415 - the SDK import costs ~0.3 s
    except ImportError as exc:
        raise MissingExtraError("azure-storage-blob", "azure") from exc
    return blob


class BlobReader:
    """Lists and downloads blobs of one container with the configured credential."""

    def __init__(
        self, ref: BlobRef, settings: BlobSettings | None = None,
        credential: TokenSource | None = None,
    ) -> None:
        self.ref = ref
        self.settings = settings or BlobSettings()
        self._credential = credential
        self._client: Any = None
        self._core: Any = None  # the token credential handed to the SDK, when one is used

    def _container(self) -> Any:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        sdk = _sdk()
        settings, ref = self.settings, self.ref
        if ref.endpoint is None and settings.connection_string is not None:
            try:
                return sdk.ContainerClient.from_connection_string(
                    settings.connection_string.get_secret_value(), ref.container)
            except ValueError as exc:
                raise ConfigError("AZURE_STORAGE_CONNECTION_STRING: not a valid storage "
                                  "connection string") from exc
        endpoint = ref.endpoint or settings.account_url
        if endpoint is None:
            if not settings.account_name:
                raise ConfigError(
                    f"{ref.display}: set AZURE_STORAGE_CONNECTION_STRING, or "
                    "AZURE_STORAGE_ACCOUNT (with a SAS token, key or Entra ID credential), "
                    "or use an https://<account>.blob.core.windows.net/ URL")
            endpoint = f"https://{settings.account_name}.blob.core.windows.net"
        return sdk.ContainerClient(endpoint.rstrip("/"), ref.container,
                                   credential=self._sdk_credential())

    def _sdk_credential(self) -> Any:
        settings, ref = self.settings, self.ref
        if ref.sas:
            return ref.sas
        if self._credential is not None:  # given explicitly (a bearer token): it wins
            self._core = as_azure_credential(self._credential)
            return self._core
        if settings.sas_token is not None:
            return settings.sas_token.get_secret_value().lstrip("?")
        if settings.account_key is not None and settings.account_name:
            return {"account_name": settings.account_name,
                    "account_key": settings.account_key.get_secret_value()}
        self._core = as_azure_credential(token_source(AzureSettings()))
        return self._core

    def list(self, prefix: str) -> dict[str, int]:
        """Every blob name under ``prefix`` with its size in bytes."""
        def call() -> dict[str, int]:
            return {str(b.name): int(b.size) for b in
                    self._container().list_blobs(name_starts_with=prefix or None)}
        return self._call(call, f"{self.ref.child(prefix).display} (listing)")

    def size(self, name: str) -> int | None:
        """The size of blob ``name``, or None when it does not exist."""
        sdk_errors = _errors()

        def call() -> int | None:
            try:
                props = self._container().get_blob_client(name).get_blob_properties()
                return int(props.size)
            except sdk_errors.ResourceNotFoundError:
                return None
        return self._call(call, self.ref.child(name).display)

    def read(self, name: str) -> bytes:
        """The whole blob (small files such as manifests)."""
        return self._call(lambda: bytes(self._container().download_blob(name).readall()),
                        self.ref.child(name).display)

    def open(self, name: str) -> Opened:
        """A streaming reader over blob ``name``."""
        shown = self.ref.child(name).display
        downloader: Any = self._call(lambda: self._container().download_blob(name), shown)
        chunks = _wrapped_iter(downloader.chunks(), shown)
        return Opened(io.BufferedReader(IteratorStream(chunks), 1 << 20), shown,
                      int(downloader.size))


    def _call(self, call: Callable[[], T], shown: str) -> T:
        """``call`` with one retry on a refused bearer token (expired or revoked): the
        token is dropped from its cache and a new client asks for a new one."""
        errors = _errors()
        try:
            return call()
        except errors.ClientAuthenticationError as exc:
            if self._core is None:  # a key or SAS: nothing to refresh
                raise _translate(exc, shown) from exc
            log.info("%s: the storage token was refused; retrying once with a new token", shown)
            self._core.invalidate_last()
            self._client = None
        except errors.AzureError as exc:
            raise _translate(exc, shown) from exc
        return _wrapped(call, shown)


def _errors() -> Any:
    try:
        from azure.core import exceptions  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtraError("azure-core", "azure") from exc
    return exceptions


def _wrapped(call: Callable[[], T], shown: str) -> T:
    """Run an SDK ``call``; turn Azure errors into focusflow errors naming ``shown``."""
    errors = _errors()
    try:
        return call()
    except errors.AzureError as exc:
        raise _translate(exc, shown) from exc


def _translate(exc: Exception, shown: str) -> SourceError:
    """The focusflow error for an Azure SDK error (never carrying a SAS or key)."""
    errors = _errors()
    if isinstance(exc, errors.ResourceNotFoundError):
        return SourceError(f"{shown}: no such blob or container")
    if isinstance(exc, errors.ClientAuthenticationError):
        return SourceError(f"{shown}: access refused ({_code(exc)}); check the storage "
                           "credential and its Storage Blob Data Reader role")
    if isinstance(exc, errors.HttpResponseError):
        status = getattr(exc, "status_code", None) or 0
        kind = TransientSourceError if status in {408, 429, 500, 502, 503, 504} else SourceError
        return kind(f"{shown}: HTTP {status} {_code(exc)}")
    return TransientSourceError(f"{shown}: {type(exc).__name__}")


def _wrapped_iter(chunks: Iterator[bytes], shown: str) -> Iterator[bytes]:
    while True:
        chunk = _wrapped(lambda: next(chunks, None), shown)
        if chunk is None:
            return
        yield chunk


def _code(exc: Any) -> str:
    return str(getattr(exc, "error_code", None) or type(exc).__name__)


def open_blob(uri: str, options: HttpOptions) -> Opened:
    """Opener of the ``az`` scheme (and of blob https URLs handed to it)."""
    ref = parse_blob_uri(uri)
    if not ref.path or ref.path.endswith("/"):
        raise ConfigError(f"{ref.display}: expected a blob, got a folder")
    credential = StaticToken(options.bearer_token) if options.bearer_token else None
    return BlobReader(ref, credential=credential).open(ref.path)


__all__ = ["STORAGE", "BlobReader", "BlobRef", "BlobSettings", "is_blob_url", "open_blob",
           "parse_blob_uri"]
