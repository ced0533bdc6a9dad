"""Where a report's bytes live: local paths, http(s) URLs and ``s3://`` objects, opened as streams.

Each scheme maps to an opener returning an ``Opened`` (a binary stream plus a display name that
never carries credentials). Other layers may add schemes (``register_scheme``), which is how
Azure Blob joins without this module importing Azure. Third-party errors are wrapped into
``SourceError`` here, transient ones (timeouts, 5xx, throttling) as ``TransientSourceError``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from focusflow.errors import ConfigError, SourceError, TransientSourceError
from focusflow.focus.streams import IteratorStream

if TYPE_CHECKING:
    import ssl

    import httpx

_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class HttpOptions:
    """How to reach an http(s) source: extra headers, auth and TLS settings."""

    headers: Mapping[str, str] = field(default_factory=dict)
    bearer_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_file: str | None = None
    insecure: bool = False
    timeout_seconds: float = 60.0
    method: str = "GET"
    body: str | None = None

    def verify(self) -> ssl.SSLContext | bool:
        if self.insecure:
            return False
        if self.ca_file:
            import ssl  # noqa: PLC0415 - only https sources need TLS (a local load skips it)

            return ssl.create_default_context(cafile=self.ca_file)
        return True

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.bearer_token.get_secret_value()}"
        return headers

    def auth(self) -> httpx.BasicAuth | None:
        import httpx  # noqa: PLC0415 - loaded for http(s) sources only: local loads start faster

        if self.username is None:
            return None
        password = self.password.get_secret_value() if self.password else ""
        return httpx.BasicAuth(self.username, password)


@dataclass
class Opened:
    """An open source: the byte stream and facts about it."""

    stream: BinaryIO
    display: str
    size: int | None = None
    local_path: Path | None = None
    content_type: str | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        self.stream.close()
        for closer in self.closers:
            closer()


Opener = Callable[[str, HttpOptions], Opened]
_OPENERS: dict[str, Opener] = {}


def register_scheme(scheme: str, opener: Opener) -> None:
    """Teach ``open_location`` a new URI scheme."""
    _OPENERS[scheme] = opener


def display_name(uri: str) -> str:
    """The URI without user info, query string or fragment (which may hold credentials)."""
    parts = urlsplit(uri)
    if not parts.scheme or len(parts.scheme) == 1:  # a path (or a Windows drive letter)
        return uri
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def open_location(uri: str, options: HttpOptions | None = None) -> Opened:
    """Open ``uri`` for reading; raises ``SourceError`` with a credential-free message."""
    scheme = urlsplit(uri).scheme.lower()
    if len(scheme) <= 1:
        scheme = "file"
    opener = _OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(sorted(f"{s}://" for s in _OPENERS))
        raise ConfigError(f"{display_name(uri)}: unsupported location scheme {scheme!r} ({known})")
    return opener(uri, options or HttpOptions())


def _open_file(uri: str, _: HttpOptions) -> Opened:
    path = Path(urlsplit(uri).path if uri.startswith("file://") else uri).expanduser()
    try:
        stream = path.open("rb", buffering=0)
        size = path.stat().st_size
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, expected a file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror})") from exc
    return Opened(stream, str(path), size, local_path=path)


def _open_http(uri: str, options: HttpOptions) -> Opened:
    import httpx  # noqa: PLC0415 - see HttpOptions.auth

    shown = display_name(uri)
    client = httpx.Client(
        verify=options.verify(), timeout=options.timeout_seconds, follow_redirects=True,
        auth=options.auth(),
    )
    try:
        request = client.build_request(
            options.method, uri, headers=options.request_headers(),
            content=options.body.encode() if options.body is not None else None,
        )
        response = client.send(request, stream=True)
    except httpx.TimeoutException as exc:
        client.close()
        raise TransientSourceError(f"{shown}: timed out") from exc
    except httpx.HTTPError as exc:
        client.close()
        raise TransientSourceError(f"{shown}: {type(exc).__name__}: {_safe(exc, options)}") from exc
    if response.status_code >= 400:
        response.close()
        client.close()
        error = TransientSourceError if response.status_code in _RETRYABLE_STATUS else SourceError
        raise error(f"{shown}: HTTP {response.status_code} {response.reason_phrase}")
    length = response.headers.get("content-length")
    stream = IteratorStream(response.iter_raw())
    return Opened(
        io.BufferedReader(stream, 1 << 20),
        shown,
        int(length) if length and length.isdigit() else None,
        content_type=response.headers.get("content-type"),
        closers=[response.close, client.close],
    )


def _safe(exc: Exception, options: HttpOptions) -> str:
    """An exception's text with any configured secret blanked out."""
    text = str(exc)
    for secret in (options.bearer_token, options.password):
        if secret is not None and secret.get_secret_value():
            text = text.replace(secret.get_secret_value(), "***")
    return text


def _open_s3(uri: str, _: HttpOptions) -> Opened:
    import boto3  # noqa: PLC0415 - boto3 import costs ~0.3 s; only s3:// pays it
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    parts = urlsplit(uri)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket or not key:
        raise ConfigError(f"{uri}: expected s3://<bucket>/<key>")
    client: Any = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        error = TransientSourceError if code in {"SlowDown", "ServiceUnavailable",
                                                 "InternalError", "RequestTimeout"} else SourceError
        raise error(f"s3://{bucket}/{key}: {code}") from exc
    except BotoCoreError as exc:
        raise TransientSourceError(f"s3://{bucket}/{key}: {exc}") from exc
    body = response["Body"]
    return Opened(body, f"s3://{bucket}/{key}", response.get("ContentLength"),
                  content_type=response.get("ContentType"))


register_scheme("file", _open_file)
register_scheme("http", _open_http)
register_scheme("https", _open_http)
register_scheme("s3", _open_s3)
