"""Read ahead: a thread pulls the next batches while the consumer works on the current one.

A DuckDB load of CSV text rows runs DuckDB on one thread that pulls Arrow batches from Python;
without read-ahead, Arrow parses the next block only when DuckDB asks for it, so parsing and
typing take turns and a second core idles. With a few batches parsed ahead they overlap (wall
time of a 200k-row load 1.87 s -> 1.56 s on a quiet 2-core machine, for about 3% more CPU;
docs/ingest.md).

The producer thread only iterates the source (Arrow releases the GIL while it parses); an
exception there is raised in the consumer, in order. Closing the consumer early (a refused
value, a stop signal cancelling DuckDB's query) stops the producer after at most the batch
it is on, and waits briefly for it, so a fallback that reopens the file never races it; read-
aheads chained one into another (the DuckDB sink parses on one thread and types on a second)
all stop, each source closed as its consumer goes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()
_POLL_SECONDS = 0.1  # how often a blocked producer looks whether the consumer has gone
_JOIN_SECONDS = 2.0  # a producer stuck on a slow network read is a daemon: never waited for long


def read_ahead(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """Yield ``items`` in order while a thread fetches up to ``depth`` of them ahead."""
    pending: queue.Queue[object] = queue.Queue(depth)
    gone = threading.Event()

    def hand_over(item: object) -> bool:
        while not gone.is_set():
            try:
                pending.put(item, timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            else:
                return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
            hand_over(_END)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer, where it belongs
            hand_over(exc)

    producer = threading.Thread(target=produce, name="focusflow-read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            item = pending.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        gone.set()
        producer.join(_JOIN_SECONDS)


__all__ = ["read_ahead"]
