"""A run's range queries, asked ahead of their use, one at a time, in order (allocation layer).

Prometheus answers a run's queries one after another (``metrics.CONCURRENCY``). A run queues
each query as soon as it knows it will need it and takes the answer when it does, so
Prometheus never waits on the run: the next chunk's queries are queued while this chunk is
modelled (in the order ``job._batches`` explains). ``focusflow allocate`` opens the queue (the
endpoint check, the node presence, the first chunk's model ``INPUTS``) once the billing rows
are read (so a bad billing report fails before Prometheus is asked) and before it imports
DuckDB and Arrow or opens the database, so that happens while Prometheus answers. Only
``metrics`` and ``settings`` are imported here, to keep that start short.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TypeVar

from focusflow.allocation.metrics import HOUR, NAMES, ClusterMetrics
from focusflow.allocation.settings import AllocationSettings

Chunk = dict[str, "Future[bytes]"]
"""Queries of a chunk (of ``metrics.NAMES``) -> their raw answers, as they arrive."""
OWNERS = ("owner", "replicaset")  # only name each row's controller
INPUTS = tuple(name for name in NAMES if name not in OWNERS)  # what the model needs

_T = TypeVar("_T")


def chunk_spans(settings: AllocationSettings) -> list[tuple[int, int]]:
    """The window cut into ``[start, end)`` spans of ``chunk_hours`` (the last may be short)."""
    step = settings.chunk_hours * HOUR
    return [(start, min(start + step, settings.end_s))
            for start in range(settings.start_s, settings.end_s, step)]


class Ahead:
    """One worker thread asking ``metrics``'s queries in the order they are queued. Opening
    it checks the endpoint (here, so an unreachable one fails the run before anything else is
    asked, with the client's retries) and queues the node presence over ``presence`` (default:
    the window; ``BillingIndex.presence_span`` with billing rows) and the first chunk's
    ``INPUTS``."""

    def __init__(self, metrics: ClusterMetrics, settings: AllocationSettings,
                 presence: tuple[int, int] | None = None) -> None:
        metrics.client.check()
        self.metrics = metrics
        self.spans = chunk_spans(settings)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="allocation-queries")
        self.presence = self._queue(metrics.node_presence,
                                    *(presence or (settings.start_s, settings.end_s)))
        self._asked: dict[tuple[int, str], Future[bytes]] = {}  # queued, not yet taken
        self.ask(0, INPUTS)

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def ask(self, index: int, names: tuple[str, ...]) -> None:
        """Queue the queries ``names`` (of ``metrics.NAMES``) of chunk ``index`` of ``spans``
        (each once)."""
        start, end = self.spans[index]
        for name in names:
            if (index, name) not in self._asked:
                self._asked[(index, name)] = self._queue(self.metrics.ask, name, start, end)

    def take(self, index: int, names: tuple[str, ...]) -> Chunk:
        """The answers of ``names`` of chunk ``index`` as they arrive (queued now if they were
        not): the queue lets go of them, so an answer lives as long as the run uses it."""
        self.ask(index, names)
        return {name: self._asked.pop((index, name)) for name in names}

    def close(self) -> None:
        """Drop every query not yet asked; wait for the one in flight (idempotent)."""
        self._asked.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _queue(self, ask: Callable[..., _T], *args: object) -> Future[_T]:
        return self._pool.submit(ask, *args)
