"""The exporter: poll a source every ``pollingInterval``, publish snapshots, serve them.

Layer: ``exporter``. ``Exporter.poll_once`` fetches, decodes and renders off to the side, then
swaps the snapshot in. On failure the last good snapshot keeps being served; the error is
counted, logged once per cycle, and the next attempt waits a bounded exponential backoff with
jitter (never longer than the polling interval, never a hot loop). ``routes()`` gives the HTTP
endpoints: ``/metrics`` (the data family only, as Krateo's scraper expects), ``/metrics/self``
(the ``focusflow_exporter_*`` self-metrics), ``/rows`` (Arrow IPC stream, or CSV with
``?format=csv`` / ``Accept: text/csv``; ``ETag`` = snapshot id, ``If-None-Match`` → 304; a
bearer token when one is configured), ``/healthz`` (alive) and ``/readyz`` (a snapshot is
being served). Large bodies are streamed from the snapshot and marked ``heavy`` so the server
caps how many are sent at once.
"""

from __future__ import annotations

import gzip
import hmac
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import xxhash

from focusflow.errors import FocusflowError, is_transient
from focusflow.exporter.config import ExporterConfig
from focusflow.exporter.decode import Decoded, decode
from focusflow.exporter.exposition import Exposition, render_parts
from focusflow.exporter.snapshot import (
    ARROW_STREAM,
    Snapshot,
    SnapshotHolder,
    arrow_ipc_buffer,
    make_snapshot,
    snapshot_id,
)
from focusflow.runtime.backoff import Backoff
from focusflow.runtime.http import Request, Response, Route
from focusflow.runtime.tokens import TokenSource
from focusflow.sources import Fetched, Source

logger = logging.getLogger(__name__)

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SELF_METRICS_PATH = "/metrics/self"  # /metrics holds the data family only (Krateo's contract)


@dataclass
class ExporterStats:
    fetch_errors: int = 0
    fetches: int = 0
    last_success: float = 0.0
    last_duration: float = 0.0
    last_error: str = ""
    # Cumulated over published snapshots (each snapshot counted once, when it is published).
    nonconformant_cells: dict[str, int] = field(default_factory=dict)
    quarantined_rows: int = 0


class Exporter:
    """One source served as metrics and rows."""

    def __init__(self, config: ExporterConfig, source: Source, *,
                 eager_metrics: bool = True, rows_token: TokenSource | None = None) -> None:
        self.config = config
        self.source = source
        # Eager: /metrics is rendered during the poll (Prometheus is the consumer; render errors
        # count as poll failures). Lazy: on the first /metrics request (a scraper reads /rows).
        self.eager_metrics = eager_metrics
        self.holder = SnapshotHolder()
        # /rows answers only a request bearing this token (None: open, outside Kubernetes).
        self.rows_token = rows_token
        self.stats = ExporterStats()
        self.backoff = Backoff(base=min(1.0, config.polling_interval),
                               cap=config.polling_interval)
        self._settings = config.model_dump_json(include={"metric_type", "generic",
                                                         "aggregate_by", "label_names"})
        self._body_digest = ""
        self._last_transient = True

    # -- polling ---------------------------------------------------------------------------
    def poll_once(self) -> bool:
        """One cycle; True when a snapshot (new or unchanged) is being served from it."""
        started = time.monotonic()
        self.stats.fetches += 1
        try:
            # No local keeps the fetched body: _publish drops it once decoded (peak memory).
            self._publish(self.source.fetch())
        except FocusflowError as exc:
            self.stats.fetch_errors += 1
            self.stats.last_error = str(exc)
            self._last_transient = is_transient(exc)
            logger.error(  # noqa: TRY400 - an expected failure: one line, no traceback
                "exporter cycle failed for %s: %s (serving the last good snapshot: "
                         "%s)", self.source.name, exc,
                         self.holder.current.id if self.holder.current else "none")
            return False
        finally:
            self.stats.last_duration = time.monotonic() - started
        self.stats.last_success = time.time()
        self.stats.last_error = ""
        return True

    def _publish(self, fetched: Fetched) -> None:
        digest = _digest(fetched)
        current = self.holder.current
        if current is not None and digest == self._body_digest:
            logger.debug("%s unchanged; keeping snapshot %s", fetched.name, current.id)
            return
        name = fetched.name
        decoded = decode(fetched, self.config)
        del fetched  # the body is not needed once decoded: free it before the IPC copy
        self._report_leniency(name, decoded)
        snapshot = make_snapshot(snapshot_id(digest, self._settings), decoded,
                                 lambda held: self._render(held, name))
        del decoded  # the snapshot holds the rows once, as its IPC stream
        if self.eager_metrics:
            snapshot.compress_metrics()
        self.holder.swap(snapshot)
        self._body_digest = digest
        logger.info("%s: published snapshot %s (%d rows)", name, snapshot.id,
                    snapshot.rows)

    def _report_leniency(self, name: str, decoded: Decoded) -> None:
        """Count and log, once per new snapshot, what was served leniently or set aside."""
        leniency = decoded.leniency
        for column, count in leniency.nonconformant.items():
            self.stats.nonconformant_cells[column] = \
                self.stats.nonconformant_cells.get(column, 0) + count
        self.stats.quarantined_rows += len(leniency.quarantined)
        for message in leniency.messages("served"):
            logger.warning("%s: %s", name, message)

    def _render(self, decoded: Decoded, name: str) -> Exposition:
        rendered = render_parts(decoded, self.config)
        if rendered.skipped:
            logger.warning("%s: %d row(s) have no numeric value and get no sample", name,
                           rendered.skipped)
        return rendered

    def next_delay(self, succeeded: bool) -> float:
        """Seconds until the next poll: the interval, or a backoff after a transient failure.

        Bad content (a parse error) waits the full interval: downloading the same bytes again
        sooner cannot help (R11).
        """
        if succeeded or not self._last_transient:
            self.backoff.reset()
            return self.config.polling_interval
        return self.backoff.next_delay()

    def run(self, stop: threading.Event, *, once: bool = False) -> None:
        """Poll until ``stop`` is set (or once)."""
        while not stop.is_set():
            ok = self.poll_once()
            if once:
                return
            stop.wait(self.next_delay(ok))

    # -- serving ---------------------------------------------------------------------------
    def routes(self, prefix: str = "") -> dict[str, Route]:
        return {
            f"{prefix}/metrics": self.metrics,
            f"{prefix}{SELF_METRICS_PATH}": self.own_metrics,
            f"{prefix}/rows": self.rows,
            f"{prefix}/healthz": lambda _: Response(200, b"ok\n"),
            f"{prefix}/readyz": self.ready,
        }

    def ready(self, _: Request) -> Response:
        if self.holder.current is None:
            return Response(503, b"no snapshot yet\n")
        return Response(200, b"ready\n")

    def metrics(self, request: Request) -> Response:
        """The data family only (Krateo's scraper reads every family here as rows).

        Not rendered yet (a ``focusflow run`` pipeline renders on first request): the render
        runs as the body's first step, behind the server's cap on large bodies, not on a
        route thread that a health probe may need.
        """
        snapshot = self.holder.current
        if snapshot is None:
            return Response(200, b"", METRICS_TYPE)
        gzipped = "gzip" in request.headers.get("accept-encoding", "").lower()
        headers = {"Vary": "Accept-Encoding"}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        rendered = snapshot.rendered is not None
        length = None
        if rendered:
            length = (sum(len(p) for p in snapshot.exposition_gzip(b"")) if gzipped
                      else snapshot.plain_size)
        return Response(200, self._exposition(snapshot, gzipped=gzipped), METRICS_TYPE,
                        headers, length=length, heavy=True)

    def _exposition(self, snapshot: Snapshot, *, gzipped: bool) -> Iterator[bytes | memoryview]:
        try:
            parts: Iterable[bytes | memoryview] = (
                snapshot.exposition_gzip(b"") if gzipped else snapshot.exposition())
            iterator = iter(parts)
            first = next(iterator, None)  # a lazy render fails here, before any byte is sent
        except FocusflowError as exc:  # lazy render of a bad config (e.g. aggregateBy)
            logger.error("%s: /metrics cannot be rendered: %s", self.source.name, exc)  # noqa: TRY400
            if gzipped:  # headers are sent: an empty page, but a valid gzip stream
                yield gzip.compress(b"")
            return
        if first is not None:
            yield first
            yield from iterator

    def own_metrics(self, _: Request) -> Response:
        """The exporter's self-metrics (``focusflow_exporter_*``), on their own path."""
        return Response(200, self.self_metrics(self.holder.current), METRICS_TYPE)

    def rows(self, request: Request) -> Response:
        snapshot = self.holder.current
        if not self._authorized(request):
            return Response(401, b"a bearer token is required for /rows\n",
                            headers={"WWW-Authenticate": 'Bearer realm="focusflow"'})
        if snapshot is None:
            return Response(503, b"no snapshot yet\n", headers={"Retry-After": "5"})
        etag = f'"{snapshot.id}"'
        headers = {"ETag": etag, "X-Focusflow-Snapshot": snapshot.id,
                   "X-Focusflow-Rows": str(snapshot.rows)}
        if none_match(request.headers.get("if-none-match"), snapshot.id):
            return Response(304, b"", headers=headers)
        as_csv = request.query.get("format", [""])[0].lower() == "csv" or (
            "text/csv" in request.headers.get("accept", "")
            and ARROW_STREAM not in request.headers.get("accept", ""))
        if as_csv:
            return Response(200, snapshot.csv(), "text/csv; charset=utf-8", headers,
                            heavy=True)
        return Response(200, [memoryview(snapshot.arrow)], ARROW_STREAM, headers, heavy=True)

    def _authorized(self, request: Request) -> bool:
        expected = self.rows_token() if self.rows_token is not None else None
        if expected is None:
            return True
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), expected.get_secret_value().encode())

    def self_metrics(self, snapshot: Snapshot | None) -> bytes:
        stats = self.stats
        rendered = snapshot.rendered if snapshot else None
        families = [
            ("focusflow_exporter_last_success_timestamp_seconds", "gauge",
             "Unix time of the last successful poll", stats.last_success),
            ("focusflow_exporter_rows", "gauge", "Rows in the served snapshot",
             snapshot.rows if snapshot else 0),
            ("focusflow_exporter_series", "gauge", "Series in the served exposition",
             rendered.series if rendered else 0),
            ("focusflow_exporter_skipped_rows", "gauge",
             "Rows of the snapshot without a numeric value", rendered.skipped if rendered else 0),
            ("focusflow_exporter_fetch_errors_total", "counter", "Failed polls of the source",
             stats.fetch_errors),
            ("focusflow_exporter_fetches_total", "counter", "Polls of the source", stats.fetches),
            ("focusflow_exporter_fetch_duration_seconds", "gauge",
             "Duration of the last poll (fetch, decode, render)", stats.last_duration),
        ]
        lines = []
        for name, kind, help_text, value in families:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
        lines += _leniency_metrics(stats, snapshot)
        return ("\n".join(lines) + "\n").encode()


def _leniency_metrics(stats: ExporterStats, snapshot: Snapshot | None) -> list[str]:
    """Non-conformant cells per column and quarantined rows: cumulated and in the snapshot."""
    current = snapshot.decoded.leniency.nonconformant if snapshot else {}
    quarantined = len(snapshot.decoded.leniency.quarantined) if snapshot else 0
    lines = [
        "# HELP focusflow_exporter_nonconformant_cells_total Cells outside FOCUS's allowed "
        "values, served as they are (per published snapshot)",
        "# TYPE focusflow_exporter_nonconformant_cells_total counter",
        *(f'focusflow_exporter_nonconformant_cells_total{{column="{column}"}} {count}'
          for column, count in sorted(stats.nonconformant_cells.items())),
        "# HELP focusflow_exporter_nonconformant_cells Cells outside FOCUS's allowed values in "
        "the served snapshot",
        "# TYPE focusflow_exporter_nonconformant_cells gauge",
        *(f'focusflow_exporter_nonconformant_cells{{column="{column}"}} {count}'
          for column, count in sorted(current.items())),
        "# HELP focusflow_exporter_quarantined_rows_total Rows set aside because a cell cannot "
        "be typed (per published snapshot)",
        "# TYPE focusflow_exporter_quarantined_rows_total counter",
        f"focusflow_exporter_quarantined_rows_total {stats.quarantined_rows}",
        "# HELP focusflow_exporter_quarantined_rows Rows of the source left out of the served "
        "snapshot because a cell cannot be typed",
        "# TYPE focusflow_exporter_quarantined_rows gauge",
        f"focusflow_exporter_quarantined_rows {quarantined}",
    ]
    return lines


_ENTITY_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*(?:,|$)')


def none_match(header: str | None, current: str) -> bool:
    """RFC 9110 13.1.2 for a representation that exists: does ``If-None-Match`` match it?

    ``*`` matches any current representation; otherwise the entity tags are compared weakly
    (``W/`` ignored). A malformed field matches nothing (the full response is sent).
    """
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return current in {match.group(1) for match in _ENTITY_TAG.finditer(header)}


def _digest(fetched: Fetched) -> str:
    """What the source returned, to tell an unchanged poll (every poll hashes the whole body:
    xxh3 runs at memory speed where SHA-256 took 0.4 s CPU for a 222 MB report)."""
    digest = xxhash.xxh3_128()
    if fetched.table is not None:
        digest.update(memoryview(arrow_ipc_buffer(fetched.table)))
    else:
        digest.update(fetched.body or b"")
        digest.update((fetched.content_type or "").encode())
    return digest.hexdigest()
