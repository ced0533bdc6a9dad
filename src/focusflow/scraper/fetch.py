"""Fetch an exporter's current snapshot: lossless ``/rows`` first, ``/metrics`` as fallback.

Layer: ``scraper``. ``/rows`` is an Arrow IPC stream whose ``ETag`` is the snapshot id; sending
it back as ``If-None-Match`` gets a 304 when nothing changed, so unchanged snapshots cost one
small request and no write (R16). The body is read whole and decoded before anything is loaded:
a stream cut short (exporter killed mid-transfer) fails to decode and nothing is written.

Any Krateo-style exporter without ``/rows`` (404) is read through its ``/metrics``: the samples
of the wanted family become rows (labels → columns, snake_case FOCUS labels mapped back to
their FOCUS names), and the snapshot id is a hash of that family's lines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx
import pyarrow as pa

from focusflow.errors import InputError, SourceError, TransientSourceError
from focusflow.focus import display_name
from focusflow.scraper.prometheus_text import metrics_to_table
from focusflow.sources import Endpoint

ARROW_STREAM = "application/vnd.apache.arrow.stream"
_TRANSIENT = {408, 425, 429, 500, 502, 503, 504}
_END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"


@dataclass(frozen=True)
class Snapshot:
    """One fetch: ``table`` is None when the exporter said the snapshot is unchanged."""

    id: str
    table: pa.Table | None
    url: str


def rows_path(path: str) -> str:
    """``/metrics`` (what Krateo's operator writes) → ``/rows``; other paths are kept."""
    clean = path.split("?", 1)[0].rstrip("/")
    if not clean or clean.endswith("/metrics"):
        return clean.removesuffix("/metrics") + "/rows"
    return clean


def metrics_path(path: str) -> str:
    clean = path.split("?", 1)[0].rstrip("/")
    return clean.removesuffix("/rows") + "/metrics" if not clean.endswith("/metrics") else clean


def fetch_snapshot(
    endpoint: Endpoint, path: str, previous_id: str | None, *, metric_name: str,
    timeout: float = 300.0,
) -> Snapshot:
    """The exporter's snapshot (or an unchanged marker); raises ``SourceError``."""
    url = endpoint.url_for(rows_path(path))
    headers = {"Accept": f"{ARROW_STREAM}, text/plain;q=0.5"}
    if previous_id:
        headers["If-None-Match"] = f'"{previous_id}"'
    if endpoint.token is not None:
        headers["Authorization"] = f"Bearer {endpoint.token.get_secret_value()}"
    auth = httpx.BasicAuth(endpoint.username or "", endpoint.password.get_secret_value()) \
        if endpoint.password is not None else None
    with httpx.Client(verify=endpoint.ssl_context(), timeout=timeout, auth=auth) as client:
        response = _get(client, url, headers)
        if response.status_code == 404:
            url = endpoint.url_for(metrics_path(path))
            headers["Accept"] = "text/plain;version=0.0.4"
            response = _get(client, url, headers)
            _check(response, url)
            return _from_metrics(response.text, url, metric_name)
    if response.status_code == 304 and previous_id:
        return Snapshot(previous_id, None, display_name(url))
    _check(response, url)
    if ARROW_STREAM not in response.headers.get("content-type", ""):
        # A Krateo exporter at a custom path: the exposition itself.
        return _from_metrics(response.text, url, metric_name)
    etag = response.headers.get("etag", "").removeprefix("W/").strip('"')
    table = _read_ipc(response.content, url)
    announced = response.headers.get("x-focusflow-rows")
    if announced is not None and announced.isdigit() and int(announced) != table.num_rows:
        raise TransientSourceError(f"exporter {display_name(url)}: snapshot has "
                                   f"{table.num_rows} rows, {announced} announced")
    return Snapshot(etag or hashlib.sha256(response.content).hexdigest()[:32], table,
                    display_name(url))


def _get(client: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response:
    shown = display_name(url)
    try:
        return client.get(url, headers=headers)
    except httpx.TimeoutException as exc:
        raise TransientSourceError(f"exporter {shown}: timed out") from exc
    except httpx.HTTPError as exc:
        # Incomplete bodies (exporter killed mid-transfer) land here too: nothing is loaded.
        raise TransientSourceError(f"exporter {shown}: {type(exc).__name__}") from exc


def _check(response: httpx.Response, url: str) -> None:
    if response.status_code == 200:
        return
    error = TransientSourceError if response.status_code in _TRANSIENT else SourceError
    raise error(f"exporter {display_name(url)}: HTTP {response.status_code}")


def _read_ipc(body: bytes, url: str) -> pa.Table:
    if not body.endswith(_END_OF_STREAM):
        # The writer never finished: a reader would accept the batches so far, we do not.
        raise TransientSourceError(f"exporter {display_name(url)}: Arrow stream without its "
                                   f"end-of-stream marker ({len(body)} bytes): incomplete")
    try:
        return pa.ipc.open_stream(pa.BufferReader(body)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        # A truncated or corrupt stream: retry later, load nothing.
        raise TransientSourceError(f"exporter {display_name(url)}: incomplete or corrupt "
                                   f"Arrow stream ({len(body)} bytes)") from exc


def _from_metrics(text: str, url: str, metric_name: str) -> Snapshot:
    try:
        table, digest = metrics_to_table(text, metric_name)
    except InputError as exc:
        raise SourceError(f"exporter {display_name(url)}: {exc}") from exc
    return Snapshot(digest, table, display_name(url))
