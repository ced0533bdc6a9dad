"""One run of the Kubernetes metrics export (jobs layer): windows → queries → files → state.

Orchestration only: picks the windows (resume state, ``BACKFILL_DAYS``, backend and file
retention, safety lag), runs one query per (window, metric) sequentially with the configured
delay, hands each encoded file to a single background uploader (so compressing and uploading
overlap the next query without a second query ever running), writes the state after every file
of a window is stored, then applies retention.
"""

from __future__ import annotations

import gzip
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from focusflow.errors import ConfigError
from focusflow.k8s_export.catalogue import CATALOGUE
from focusflow.k8s_export.layout import (
    Window,
    align_down,
    object_key,
    step_for,
    windows_between,
)
from focusflow.k8s_export.prometheus import PrometheusClient, RangeResult
from focusflow.k8s_export.retention import apply_retention
from focusflow.k8s_export.settings import SECONDS_PER_DAY, ExportSettings
from focusflow.k8s_export.state import ExportState, read_state, write_state
from focusflow.k8s_export.storage import ObjectStore, open_store

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
CONTENT_TYPE = "application/json"
MAX_PENDING_UPLOADS = 2  # bounds memory to ~one window's responses in flight

WindowDone = Callable[[Window, int], None]


@dataclass
class ExportReport:
    """What one run did."""

    location: str
    cluster_root: str
    windows: list[Window] = field(default_factory=list)
    files: int = 0
    deleted: int = 0
    resumed_from: int | None = None
    first_start: int | None = None
    last_end: int | None = None


def encode_file(settings: ExportSettings, *, metric: str, query: str, window: Window,
                step: int, answer: RangeResult) -> bytes:
    """The gzip JSON of one (window, metric) file. Deterministic (no mtime, no timestamps of
    the run) so a re-run overwrites a file with identical bytes."""
    header: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "cluster": settings.cluster_name,
        "metric": metric,
        "query": query,
        "start": window.start,
        "end": window.end - step,
        "step": step,
        "source": "prometheus",
        "result_type": answer.result_type,
        "warnings": answer.warnings,
    }
    # The series go in as the backend sent them: splicing the bytes saves decoding and
    # re-encoding every sample, and keeps the values exactly as Prometheus wrote them.
    document = orjson.dumps(header)[:-1] + b',"result":' + answer.raw_result + b"}"
    return gzip.compress(document, compresslevel=6, mtime=0)


def plan(settings: ExportSettings, now: float, state: ExportState | None,
         backend_start: float | None) -> tuple[int, int]:
    """``(first window start, last window end)`` of this run; first >= last means nothing.

    The floor is ``now - BACKFILL_DAYS``, or ``INITIAL_BACKFILL_DATE`` when set: then every
    window from that date on is exported, however long a gap in the runs (an initial backfill
    that outlasts one run's deadline continues at the next run instead of jumping ahead).
    """
    frame = settings.time_frame
    last_end = align_down(now - settings.safety_lag_seconds, frame)
    initial = settings.initial_backfill_date
    if initial is not None:
        floor = align_down(initial.timestamp(), frame)
    else:
        floor = align_down(now - settings.backfill_days * SECONDS_PER_DAY, frame)
    wanted = floor
    if settings.retention_days:
        # Never write a file that this run's own retention would delete.
        retention_floor = now - settings.retention_days * SECONDS_PER_DAY
        floor = max(floor, math.ceil(retention_floor / frame) * frame)
    if backend_start is not None:
        floor = max(floor, math.ceil(backend_start / frame) * frame)
    if initial is not None and floor > wanted and (state is None or
                                                   state.next_window_start < floor):
        log.warning("INITIAL_BACKFILL_DATE %s is before what RETENTION_DAYS and the backend's "
                    "retention keep; starting at %s", _iso(wanted), _iso(floor))
    first = floor
    if state is not None:
        resume = math.ceil(state.next_window_start / frame) * frame
        first = max(resume, floor)
        if resume < floor:
            log.warning("state ends at %s, before the backfill/retention floor; windows "
                        "before %s are skipped", _iso(state.next_window_start), _iso(floor))
    return first, last_end


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Uploader:
    """One background thread storing encoded files, at most ``MAX_PENDING_UPLOADS`` queued."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="k8s-export-upload")
        self.pending: deque[Future[None]] = deque()

    def _store(self, key: str, encode: Callable[[], bytes]) -> None:
        self.store.put(key, encode(), CONTENT_TYPE)

    def submit(self, key: str, encode: Callable[[], bytes]) -> None:
        while len(self.pending) >= MAX_PENDING_UPLOADS:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(self._store, key, encode))

    def drain(self) -> None:
        """Wait for every queued file; re-raises the first failure."""
        while self.pending:
            self.pending.popleft().result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def run_export(settings: ExportSettings, *, now: float | None = None,
               store: ObjectStore | None = None, client: PrometheusClient | None = None,
               on_window: WindowDone | None = None,
               sleep: Callable[[float], None] = time.sleep) -> ExportReport:
    """Export every due window, then apply retention. Raises on the first failing window; the
    state then still points at the last complete one."""
    now = time.time() if now is None else now
    initial = settings.initial_backfill_date
    if initial is not None and initial.timestamp() > now:
        raise ConfigError(f"INITIAL_BACKFILL_DATE {initial:%Y-%m-%dT%H:%M:%SZ} is in the "
                          f"future (now {_iso(now)}): expected a past date")
    store = store or open_store(settings.s3_bucket, role_arn=settings.role_arn,
                                external_id=settings.role_external_id.get_secret_value(),
                                endpoint_url=settings.aws_endpoint_url)
    own_client = client is None
    client = client or PrometheusClient(settings)
    root = settings.cluster_root
    report = ExportReport(store.location, root)
    try:
        client.check()
        state = read_state(store, root)
        report.resumed_from = state.next_window_start if state else None
        first, last_end = plan(settings, now, state, client.retention_start(now))
        report.first_start, report.last_end = first, last_end
        windows = windows_between(first, last_end, settings.time_frame)
        _export_windows(settings, client, store, windows, report=report, on_window=on_window,
                        sleep=sleep)
        if settings.retention_days:
            report.deleted = apply_retention(
                store, root, int(now) - settings.retention_days * SECONDS_PER_DAY)
    finally:
        if own_client:
            client.close()
    return report


def _export_windows(settings: ExportSettings, client: PrometheusClient, store: ObjectStore,
                    windows: Iterable[Window], *, report: ExportReport,
                    on_window: WindowDone | None, sleep: Callable[[float], None]) -> None:
    step = step_for(settings.time_frame, settings.step_seconds, settings.max_points)
    queries = {name: CATALOGUE[name].promql(settings.cluster_label, settings.cluster_name)
               for name in settings.metrics}
    uploader = _Uploader(store)
    first_query = True
    try:
        for window in windows:
            for metric, query in queries.items():
                if not first_query and settings.query_delay_seconds:
                    sleep(settings.query_delay_seconds)  # be gentle: one query at a time
                first_query = False
                answer = client.query_range(query, window.start, window.end - step, step)

                def encode(metric: str = metric, query: str = query, window: Window = window,
                           answer: RangeResult = answer) -> bytes:
                    return encode_file(settings, metric=metric, query=query, window=window,
                                       step=step, answer=answer)

                uploader.submit(object_key(report.cluster_root, window.start, metric), encode)
            uploader.drain()  # every file of the window is stored before the state moves
            write_state(store, report.cluster_root, ExportState(
                cluster=settings.cluster_name, last_completed_window_start=window.start,
                time_frame=settings.time_frame, metrics=list(queries)))
            report.windows.append(window)
            report.files += len(queries)
            log.info("exported window %s (%d metrics) to %s/%s", window, len(queries),
                     store.location, report.cluster_root)
            if on_window is not None:
                on_window(window, len(queries))
    finally:
        uploader.close()
