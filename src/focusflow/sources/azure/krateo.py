"""Exporter sources for Krateo's Azure configs: Cost Management Query and Azure Monitor metrics.

Layer: ``sources``. Krateo points its exporter at Resource Manager with an ``api`` block (path,
verb, payload) and an endpoint Secret (``server-url`` plus a ``token`` someone refreshes
hourly). ``azure_api_source`` recognizes those paths and serves them better than a plain
request, with the same config:

- ``.../providers/Microsoft.CostManagement/query``: the payload is POSTed, every ``nextLink``
  followed with the same body, 429s waited out; rows come back FOCUS-shaped (``Fetched.table``).
- ``.../providers/microsoft.insights/metrics``: the ``timespan`` is recomputed at each poll
  (same length as the configured one, or ``additionalVariables.lookback``), so the window
  slides; the body is Krateo's Monitor JSON (the exporter maps it, gaps stay NULL).
- a blob (an ``x-ms-version`` header, ``server-url`` = the storage account, path
  ``/<container>/<blob>``): read with the Blob reader that serves ``az://``.

Credentials: the Secret's ``token`` when present (re-read every poll, Krateo's way); otherwise
focusflow's own client credentials from the standard ``AZURE_TENANT_ID``/``AZURE_CLIENT_ID``/
``AZURE_CLIENT_SECRET`` variables (mount them from a Secret), kept across polls so tokens are
cached and refreshed before expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import orjson

from focusflow.errors import ConfigError
from focusflow.sources.azure.arm import ArmClient, shown
from focusflow.sources.azure.blob import BlobReader, BlobRef, BlobSettings, is_blob_url
from focusflow.sources.azure.credentials import (
    AzureSettings,
    StaticToken,
    TokenSource,
    token_source,
)
from focusflow.sources.azure.monitor import MetricsQuery, sliding_timespan
from focusflow.sources.azure.query import QueryStream, post_pages
from focusflow.sources.base import Fetched, Source
from focusflow.sources.endpoint import ApiConfig, Endpoint
from focusflow.sources.http import EndpointResolver, HttpSource
from focusflow.sources.variables import substitute

QUERY_MARK = "/providers/microsoft.costmanagement/query"
METRICS_MARK = "/providers/microsoft.insights/metrics"


class _AzureApiSource:
    """Shared plumbing: resolve the endpoint each poll and pick the credential."""

    def __init__(
        self, api: ApiConfig, resolver: EndpointResolver, variables: Mapping[str, str],
        *, settings: AzureSettings | None = None, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.resolver = resolver
        self.variables = dict(variables)
        self._settings = settings
        self._sleep = sleep
        self._own: TokenSource | None = None  # our client credentials, cached across polls
        self.name = f"api {api.path!r}"

    def _client(self) -> tuple[ArmClient, str]:
        endpoint: Endpoint = self.resolver(self.api.endpoint_ref)
        server = substitute(endpoint.server_url, self.variables).rstrip("/")
        credential: TokenSource
        if endpoint.token is not None:
            credential = StaticToken(endpoint.token)  # Krateo: re-read from the Secret each poll
        else:
            if self._own is None:
                self._own = token_source(self._settings or AzureSettings())
            credential = self._own
        base = self._settings or AzureSettings()
        settings = base.model_copy(update={"resource_manager_url": server})
        client = ArmClient(credential, settings, sleep=self._sleep,
                           verify=endpoint.ssl_context())
        url = server + "/" + substitute(self.api.path, self.variables).lstrip("/")
        self.name = shown(url)
        return client, url


class AzureCostQuerySource(_AzureApiSource):
    """Krateo's Cost Management Query request, paged and throttle-aware (``Source``)."""

    def fetch(self) -> Fetched:
        client, url = self._client()
        payload = substitute(self.api.payload, self.variables)
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{self.name}: api.payload is not JSON ({exc.msg})") from None
        if not isinstance(body, dict) or "dataset" not in {str(k).lower() for k in body}:
            raise ConfigError(f"{self.name}: api.payload must be a Query body with a dataset")
        try:
            stream = QueryStream(client, None, self.name, pages=post_pages(client, url, body),
                                 cost_type=str(body.get("type", "ActualCost")))
            table = stream.table()
        finally:
            client.close()
        return Fetched(name=self.name, table=table, hints={"path": self.api.path})


class AzureMetricsSource(_AzureApiSource):
    """Krateo's Azure Monitor metrics request with a timespan that slides each poll."""

    def __init__(self, *args: Any, clock: Callable[[], float] = time.time,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def fetch(self) -> Fetched:
        client, url = self._client()
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        query = self.metrics_query(parts.path, params)
        params["timespan"] = sliding_timespan(query, self._clock())
        params.setdefault("interval", query.interval)
        params.setdefault("api-version", query.api_version)
        try:
            response = client.request("GET", urlunsplit(
                (parts.scheme, parts.netloc, parts.path, urlencode(params), "")))
        finally:
            client.close()
        return Fetched(name=self.name, body=response.content,
                       content_type=response.headers.get("content-type", "application/json"),
                       hints={"path": self.api.path})

    def metrics_query(self, path: str, params: Mapping[str, str]) -> MetricsQuery:
        resource = path[: path.lower().index(METRICS_MARK)]
        lookback = self.variables.get("lookback") or _span(params.get("timespan", "")) or "P1D"
        try:
            return MetricsQuery(resource_id=resource,
                                metric_names=tuple(params.get("metricnames", "").split(",")),
                                interval=params.get("interval", "PT15M"), lookback=lookback,
                                api_version=params.get("api-version", "2023-10-01"))
        except ValueError as exc:
            raise ConfigError(f"{self.name}: {exc}") from None


def _span(timespan: str) -> str | None:
    """The length of a configured ``start/end`` timespan as an ISO duration (whole seconds)."""
    start, sep, end = timespan.partition("/")
    if not sep:
        return None
    try:
        seconds = int((datetime.fromisoformat(end.replace("Z", "+00:00"))
                       - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds())
    except ValueError:
        return None
    return f"PT{seconds}S" if seconds > 0 else None


class AzureBlobApiSource:
    """Krateo's blob request (``x-ms-version`` header, ``server-url`` = the account) read with
    the Blob reader: the Secret's ``token``, else focusflow's storage-scoped token.

    Only for ``https://<account>.blob.core.<cloud>`` servers (or ones under
    ``AZURE_STORAGE_ACCOUNT_URL``) and a ``/<container>/<blob>`` path; anything else, and
    endpoints with their own CA, client certificate, proxy or ``insecure``, keep the plain
    request (the Azure SDK takes its trust store from ``REQUESTS_CA_BUNDLE`` instead).
    """

    def __init__(self, api: ApiConfig, resolver: EndpointResolver,
                 variables: Mapping[str, str], *, settings: AzureSettings | None = None) -> None:
        self.api = api
        self.resolver = resolver
        self.variables = dict(variables)
        self._settings = settings
        self._own: TokenSource | None = None
        self._plain = HttpSource(api, resolver, variables)
        self.name = f"api {api.path!r}"

    def fetch(self) -> Fetched:
        endpoint = self.resolver(self.api.endpoint_ref)
        server = substitute(endpoint.server_url, self.variables).rstrip("/")
        path, _, sas = substitute(self.api.path, self.variables).lstrip("/").partition("?")
        container, _, blob = path.partition("/")
        if endpoint.certificate_authority_data or endpoint.client_certificate_data or \
                endpoint.proxy_url or endpoint.insecure or endpoint.password or \
                not container or not blob or not is_blob_url(f"{server}/{path}"):
            # Not a storage account we recognize, or TLS/proxy settings the SDK would not
            # honour: the plain request, exactly as Krateo sends it.
            return self._plain.fetch()
        ref = BlobRef(container, unquote(blob), server, sas or None)
        self.name = ref.display
        credential: TokenSource | None = None
        if endpoint.token is not None:
            credential = StaticToken(endpoint.token)  # Krateo: re-read each poll
        elif not sas:
            if self._own is None:
                self._own = token_source(self._settings or AzureSettings())
            credential = self._own
        body = BlobReader(ref, BlobSettings(), credential).read(ref.path)
        return Fetched(name=self.name, body=body, hints={"path": self.api.path})


def azure_api_source(
    api: ApiConfig, resolver: EndpointResolver, variables: Mapping[str, str],
    *, settings: AzureSettings | None = None,
) -> Source | None:
    """The Azure-aware source for a Krateo ``api`` block, or None when it is not Azure's."""
    path = api.path.lower().split("?", 1)[0]
    if path.endswith(QUERY_MARK) or QUERY_MARK in path:
        return AzureCostQuerySource(api, resolver, variables, settings=settings)
    if METRICS_MARK in path:
        return AzureMetricsSource(api, resolver, variables, settings=settings)
    if any(h.lower().startswith("x-ms-version") for h in api.headers):
        return AzureBlobApiSource(api, resolver, variables, settings=settings)
    return None
