"""The scraper loop: fetch changed exporter snapshots and load them into a sink.

Layer: ``scraper``. Each cycle resolves the exporter endpoint and the database URL afresh
(rotated Secrets apply), fetches the snapshot (304 when unchanged: no write), and loads it with
the foundation's semantics: ``Sink.load`` replaces the source's rows for the loaded billing
periods atomically, and the snapshot id is the load's fingerprint, so a snapshot already loaded
(e.g. before a restart) is skipped by the sink too. A failed cycle (exporter down, database
down) commits nothing and is retried after a bounded exponential backoff with jitter; the
remembered snapshot id only moves after a successful load, so nothing is lost or doubled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
from pydantic import SecretStr

from focusflow.errors import FocusflowError
from focusflow.exporter.config import MetricType
from focusflow.exporter.names import sanitize_metric
from focusflow.focus import resolve_header
from focusflow.focus.catalogue import identify_dataset
from focusflow.focus.conversion import Leniency, convert_lenient, nonconformant_cells
from focusflow.runtime.backoff import Backoff
from focusflow.runtime.http import Request, Response, Route
from focusflow.runtime.tokens import TokenSource
from focusflow.scraper.config import ScraperConfig
from focusflow.scraper.fetch import Snapshot, fetch_snapshot
from focusflow.sinks import LoadRequest, LoadResult, database_location, open_sink
from focusflow.sinks.datasets import check_dataset
from focusflow.sources import Endpoint, EndpointResolver

logger = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 300.0


@dataclass
class ScraperStats:
    cycles: int = 0
    errors: int = 0
    loads: int = 0
    unchanged: int = 0
    rows_loaded: int = 0
    last_success: float = 0.0
    last_error: str = ""
    # Per loaded snapshot: cells outside FOCUS's allowed values (loaded as they are) and
    # rows of a /metrics fallback that could not be typed (not loaded).
    nonconformant_cells: dict[str, int] = field(default_factory=dict)
    quarantined_rows: int = 0


class Scraper:
    """Pulls one exporter into one table."""

    def __init__(
        self, config: ScraperConfig, endpoints: EndpointResolver,
        database: Callable[[], SecretStr], source_id: str,
        sink_lock: threading.Lock | None = None, *, rows_token: TokenSource | None = None,
    ) -> None:
        self.config = config
        self.endpoints = endpoints
        self.database = database
        self.source_id = source_id
        # The exporter's /rows token, sent when the endpoint Secret carries no credentials.
        self.rows_token = rows_token
        # Scrapers sharing one embedded database in a process take turns (DuckDB: one writer).
        self.sink_lock = sink_lock or threading.Lock()
        self.snapshot_id: str | None = None
        self.stats = ScraperStats()
        self.backoff = Backoff(base=1.0, cap=min(config.polling_interval, MAX_RETRY_SECONDS))

    def _endpoint(self) -> Endpoint:
        if self.config.exporter_url:
            endpoint = Endpoint(server_url=self.config.exporter_url)
        else:
            endpoint = self.endpoints(self.config.api.endpoint_ref)
        token = self.rows_token() if self.rows_token is not None else None
        if token is not None and endpoint.token is None and endpoint.password is None:
            endpoint = endpoint.model_copy(update={"token": token})
        return endpoint

    def _metric_name(self) -> str:
        if self.config.metric_type is MetricType.GENERIC and self.config.generic:
            # The exporter sanitises the name it exposes ("disk read" -> "disk_read").
            return sanitize_metric(self.config.generic.metric_name)
        return "billed_cost"

    def scrape_once(self) -> LoadResult | None:
        """One cycle; the load's result, or None when the snapshot was unchanged."""
        self.stats.cycles += 1
        snapshot = fetch_snapshot(self._endpoint(), self.config.api.path, self.snapshot_id,
                                  metric_name=self._metric_name())
        if snapshot.table is None:
            self.stats.unchanged += 1
            logger.debug("%s: snapshot %s unchanged", snapshot.url, snapshot.id)
            return None
        table, leniency = self._typed(snapshot)
        with self.sink_lock:
            url = self.database().get_secret_value()
            sink = open_sink(url)
            try:  # one table per FOCUS dataset
                check_dataset(sink, self.config.table_name, identify_dataset(table.column_names),
                              file=snapshot.url)
                result = sink.load(LoadRequest(
                    table=self.config.table_name, source_id=self.source_id,
                    schema=table.schema, batches=table.to_batches(max_chunksize=65_536),
                    known_fingerprint=snapshot.id,
                ))
            finally:
                sink.close()
        self.snapshot_id = snapshot.id  # only after the load committed
        self._report(snapshot.url, leniency)
        if result.unchanged:
            self.stats.unchanged += 1
            logger.info("%s: snapshot %s already loaded into %s in %s", snapshot.url,
                        snapshot.id, self.config.table_name, database_location(url))
        else:
            self.stats.loads += 1
            self.stats.rows_loaded += result.rows_written
            logger.info("%s: loaded snapshot %s into %s in %s (%d rows, %d replaced)",
                        snapshot.url, snapshot.id, self.config.table_name,
                        database_location(url), result.rows_written, result.rows_replaced)
        return result

    def _typed(self, snapshot: Snapshot) -> tuple[pa.Table, Leniency]:
        """The snapshot's rows as they are loaded (leniently) and what was counted."""
        table = snapshot.table
        assert table is not None  # noqa: S101 - checked by the caller
        if self.config.metric_type is not MetricType.COST:
            return table, Leniency()
        text_only = all(pa.types.is_string(t) or pa.types.is_floating(t)
                        for t in table.schema.types)
        if not text_only or "value" not in table.column_names:
            # Typed rows from /rows: loaded as they are; only counted.
            layout = resolve_header(table.column_names, file=snapshot.url,
                                    require_mandatory=False)
            return table, nonconformant_cells(table, layout)
        # A /metrics fallback: FOCUS labels back to typed FOCUS columns, as the exporter does.
        table = table.drop_columns(["value"])
        layout = resolve_header(table.column_names, file=snapshot.url, require_mandatory=False)
        batches, first, leniency = [], 1, Leniency()
        for batch in table.to_batches():
            lenient = convert_lenient(batch, layout, first_row=first)
            batches.append(lenient.batch)
            leniency.add(lenient.leniency)
            first += batch.num_rows
        return pa.Table.from_batches(batches, schema=layout.schema), leniency

    def _report(self, url: str, leniency: Leniency) -> None:
        """Count and log, once per loaded snapshot, what was loaded as is or left out."""
        for column, count in leniency.nonconformant.items():
            self.stats.nonconformant_cells[column] = \
                self.stats.nonconformant_cells.get(column, 0) + count
        self.stats.quarantined_rows += len(leniency.quarantined)
        for message in leniency.messages("loaded"):
            logger.warning("%s: %s", url, message)

    def run(self, stop: threading.Event, *, once: bool = False) -> bool:
        """Scrape until ``stop`` (or one successful cycle with ``once``); False if it gave up."""
        while not stop.is_set():
            try:
                self.scrape_once()
            except FocusflowError as exc:
                self.stats.errors += 1
                self.stats.last_error = str(exc)
                delay = self.backoff.next_delay()
                logger.error(  # noqa: TRY400 - expected failure: one line, no traceback
                    "scrape of %s failed: %s; retrying in %.1fs", self.source_id, exc, delay)
                stop.wait(delay)
                continue
            self.backoff.reset()
            self.stats.last_success = time.time()
            if once:
                return True
            stop.wait(self.config.polling_interval)
        return False

    # -- serving ---------------------------------------------------------------------------
    def routes(self, prefix: str = "") -> dict[str, Route]:
        return {
            f"{prefix}/healthz": lambda _: Response(200, b"ok\n"),
            f"{prefix}/readyz": self.ready,
            f"{prefix}/metrics": self.metrics,
        }

    def ready(self, _: Request) -> Response:
        if self.stats.last_success == 0.0:
            return Response(503, b"no successful scrape yet\n")
        return Response(200, b"ready\n")

    def metrics(self, _: Request) -> Response:
        s = self.stats
        lines = []
        for name, kind, value in (
            ("focusflow_scraper_cycles_total", "counter", s.cycles),
            ("focusflow_scraper_errors_total", "counter", s.errors),
            ("focusflow_scraper_loads_total", "counter", s.loads),
            ("focusflow_scraper_unchanged_total", "counter", s.unchanged),
            ("focusflow_scraper_rows_loaded_total", "counter", s.rows_loaded),
            ("focusflow_scraper_last_success_timestamp_seconds", "gauge", s.last_success),
        ):
            lines += [f"# HELP {name} {name.replace('_', ' ')}", f"# TYPE {name} {kind}",
                      f"{name} {value}"]
        name = "focusflow_scraper_nonconformant_cells_total"
        lines += [f"# HELP {name} Cells outside FOCUS's allowed values, loaded as they are",
                  f"# TYPE {name} counter",
                  *(f'{name}{{column="{column}"}} {count}'
                    for column, count in sorted(s.nonconformant_cells.items()))]
        name = "focusflow_scraper_quarantined_rows_total"
        lines += [f"# HELP {name} Rows of a /metrics fallback that cannot be typed, not loaded",
                  f"# TYPE {name} counter", f"{name} {s.quarantined_rows}"]
        return Response(200, ("\n".join(lines) + "\n").encode(),
                        "text/plain; version=0.0.4; charset=utf-8")


