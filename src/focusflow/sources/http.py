"""Sources that fetch bytes: a Krateo ``api`` request against an endpoint, or any location.

Layer: ``sources``. ``HttpSource`` resolves the endpoint Secret on every fetch (rotated tokens
are picked up, R13), substitutes ``<var>`` placeholders in the ``server-url`` and the path,
and sends ``verb`` with the configured headers and payload. ``LocationSource`` reads a path,
``http(s)://``, ``s3://`` (or any scheme registered with ``focus.register_scheme``) whole.
Errors name the URL without its query string (which may hold a SAS token) and never a secret.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

import httpx

from focusflow.errors import ConfigError, SourceError, TransientSourceError
from focusflow.focus import HttpOptions, display_name, open_location
from focusflow.sources.base import Fetched
from focusflow.sources.endpoint import ApiConfig, Endpoint, ObjectRef
from focusflow.sources.secrets import SecretStore
from focusflow.sources.variables import substitute

_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}

EndpointResolver = Callable[[ObjectRef | None], Endpoint]
"""Turns an ``endpointRef`` (or its absence) into a resolved ``Endpoint``."""


def secret_endpoints(
    store: SecretStore | None, default: Callable[[], Endpoint] | None = None
) -> EndpointResolver:
    """A resolver reading endpoint Secrets from ``store``; ``default`` serves a missing ref."""

    def resolve(ref: ObjectRef | None) -> Endpoint:
        if ref is None:
            if default is None:
                raise ConfigError("api.endpointRef is not set and no default endpoint is "
                                  "available (outside Kubernetes, set endpointRef)")
            return default()
        if store is None:
            raise ConfigError(f"api.endpointRef {ref.namespace}/{ref.name}: no secret store "
                              "(pass --secrets-dir or run in Kubernetes)")
        where = f"endpoint secret {ref.namespace}/{ref.name}"
        return Endpoint.from_secret(store.get(ref.namespace, ref.name), where=where)

    return resolve


class HttpSource:
    """Krateo's exporter request: ``verb server-url/path`` with headers and payload."""

    def __init__(
        self, api: ApiConfig, resolver: EndpointResolver,
        variables: Mapping[str, str] | None = None, timeout_seconds: float = 60.0,
    ) -> None:
        self.api = api
        self.resolver = resolver
        self.variables = dict(variables or {})
        self.timeout_seconds = timeout_seconds
        self.name = f"api {api.path!r}"

    def url(self, endpoint: Endpoint) -> str:
        server = substitute(endpoint.server_url, self.variables)
        return server.rstrip("/") + "/" + substitute(self.api.path, self.variables).lstrip("/")

    def fetch(self) -> Fetched:
        endpoint = self.resolver(self.api.endpoint_ref)
        url = self.url(endpoint)
        shown = display_name(url)
        self.name = shown
        headers = self.api.header_map()
        headers["X-Krateo-TraceId"] = uuid.uuid4().hex
        if endpoint.token is not None:
            headers["Authorization"] = f"Bearer {endpoint.token.get_secret_value()}"
        auth = None
        if endpoint.password is not None:
            auth = httpx.BasicAuth(endpoint.username or "", endpoint.password.get_secret_value())
        proxy = endpoint.proxy_url.get_secret_value() if endpoint.proxy_url else None
        try:
            with httpx.Client(verify=endpoint.ssl_context(), proxy=proxy,
                              timeout=self.timeout_seconds, follow_redirects=True) as client:
                response = client.request(
                    self.api.verb, url, headers=headers, auth=auth,
                    content=self.api.payload.encode() if self.api.payload else None,
                )
        except httpx.TimeoutException as exc:
            raise TransientSourceError(f"{shown}: timed out after {self.timeout_seconds:g}s") \
                from exc
        except httpx.HTTPError as exc:
            # The exception text can echo the URL (query string) but never carries headers.
            raise TransientSourceError(f"{shown}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            error = TransientSourceError if response.status_code in _TRANSIENT_STATUS \
                else SourceError
            raise error(f"{shown}: HTTP {response.status_code} {response.reason_phrase}")
        return Fetched(
            name=shown, body=response.content,
            content_type=response.headers.get("content-type"),
            hints={"path": substitute(self.api.path, self.variables)},
        )


class LocationSource:
    """A report at a location focusflow can open (path, http(s), s3, registered schemes)."""

    def __init__(self, uri: str, http: HttpOptions | None = None) -> None:
        self.uri = uri
        self.http = http
        self.name = display_name(uri)

    def fetch(self) -> Fetched:
        opened = open_location(self.uri, self.http)
        try:
            body = opened.stream.read()
        except OSError as exc:
            raise TransientSourceError(f"{self.name}: read failed ({exc})") from exc
        except Exception as exc:
            # Object-store bodies raise their own (botocore/azure) errors mid-stream.
            raise TransientSourceError(f"{self.name}: read failed ({type(exc).__name__})") \
                from exc
        finally:
            opened.close()
        if body is None:
            raise SourceError(f"{self.name}: no content")
        return Fetched(name=self.name, body=body, content_type=opened.content_type,
                      hints={"path": self.uri})
