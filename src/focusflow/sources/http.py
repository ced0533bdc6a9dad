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
import orjson

from focusflow.errors import ConfigError, SourceError, TransientSourceError
from focusflow.focus import HttpOptions, display_name, open_location
from focusflow.sources.base import Fetched
from focusflow.sources.endpoint import ApiConfig, Endpoint, ObjectRef
from focusflow.sources.secrets import SecretStore
from focusflow.sources.variables import substitute

_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
MAX_LIST_PAGES = 10_000

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
        _check(response, shown)
        body = response.content
        content_type = response.headers.get("content-type")
        if "json" in (content_type or "").lower():
            body = self._remaining_pages(body, url=url, endpoint=endpoint, headers=headers,
                                         auth=auth, shown=shown)
        return Fetched(
            name=shown, body=body, content_type=content_type,
            hints={"path": substitute(self.api.path, self.variables)},
        )

    def _remaining_pages(
        self, body: bytes, *, url: str, endpoint: Endpoint, headers: dict[str, str],
        auth: httpx.BasicAuth | None, shown: str,
    ) -> bytes:
        """A Kubernetes list with a ``continue`` token: fetch every page, merge the items (R9).

        Krateo reads the first page only (``limit=500``) and silently drops the rest.
        """
        try:
            page = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body  # the decoder reports bad JSON with its position
        if not _continues(page):
            return body
        items = list(page["items"])
        proxy = endpoint.proxy_url.get_secret_value() if endpoint.proxy_url else None
        with httpx.Client(verify=endpoint.ssl_context(), proxy=proxy,
                          timeout=self.timeout_seconds, follow_redirects=True) as client:
            for _ in range(MAX_LIST_PAGES):
                token = page["metadata"]["continue"]
                try:
                    # Keep the path's own query (limit, fieldSelector) and add the token.
                    page_url = httpx.URL(url).copy_merge_params({"continue": token})
                    response = client.request(self.api.verb, page_url, headers=headers,
                                              auth=auth)
                except httpx.HTTPError as exc:
                    raise TransientSourceError(f"{shown}: next list page: "
                                               f"{type(exc).__name__}") from exc
                _check(response, shown)
                try:
                    page = orjson.loads(response.content)
                except orjson.JSONDecodeError as exc:
                    raise SourceError(f"{shown}: a list page is not JSON") from exc
                items.extend(page.get("items") or [])
                if not _continues(page):
                    return orjson.dumps({**page, "items": items,
                                         "metadata": {**page.get("metadata", {}),
                                                      "continue": ""}})
        raise SourceError(f"{shown}: more than {MAX_LIST_PAGES} list pages")


def _check(response: httpx.Response, shown: str) -> None:
    if response.status_code != 200:
        error = TransientSourceError if response.status_code in _TRANSIENT_STATUS \
            else SourceError
        raise error(f"{shown}: HTTP {response.status_code} {response.reason_phrase}")


def _continues(page: object) -> bool:
    return (isinstance(page, dict) and isinstance(page.get("items"), list)
            and isinstance(page.get("metadata"), dict)
            and bool(page["metadata"].get("continue")))


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
