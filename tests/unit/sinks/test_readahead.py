"""read_ahead: order, errors in the consumer, and a producer that stops when the consumer goes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from focusflow.sinks.readahead import read_ahead


def test_items_arrive_in_order_and_all_of_them() -> None:
    assert list(read_ahead(range(1000), depth=3)) == list(range(1000))


def test_the_source_runs_on_another_thread_ahead_of_the_consumer() -> None:
    fetched: list[int] = []
    threads: set[str] = set()
    third_fetched = threading.Event()

    def source() -> Iterator[int]:
        for number in range(10):
            threads.add(threading.current_thread().name)
            fetched.append(number)
            if number == 2:
                third_fetched.set()
            yield number

    items = read_ahead(source(), depth=4)
    assert next(items) == 0
    # Fetched ahead while the consumer holds the first item and asks for nothing.
    assert third_fetched.wait(5)
    assert threads == {"focusflow-read-ahead"}
    assert list(items) == list(range(1, 10))


def test_an_error_in_the_source_is_raised_in_the_consumer_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("row 3, column BilledCost: expected a decimal")

    items = read_ahead(source())
    assert [next(items), next(items)] == [1, 2]
    with pytest.raises(ValueError, match="row 3, column BilledCost"):
        next(items)


def test_closing_the_consumer_stops_the_producer() -> None:
    fetched: list[int] = []

    def endless() -> Iterator[int]:
        number = 0
        while True:
            fetched.append(number)
            yield number
            number += 1

    items = read_ahead(endless(), depth=2)
    assert next(items) == 0
    items.close()  # e.g. DuckDB refused a value, or a stop signal cancelled its query
    stopped_at = len(fetched)
    assert stopped_at <= 5  # the item in hand, the queue's two, one being handed over
    assert not any(t.name == "focusflow-read-ahead" for t in threading.enumerate())
    assert len(fetched) == stopped_at


def test_closing_the_consumer_of_a_chain_stops_every_producer() -> None:
    # The DuckDB sink parses on one read-ahead thread and types on a second (sink.py): closing
    # the last consumer (a refusal, a stop signal) ends both threads and the source.
    fetched: list[int] = []
    closed = threading.Event()

    def endless() -> Iterator[int]:
        number = 0
        try:
            while True:
                fetched.append(number)
                yield number
                number += 1
        finally:
            closed.set()

    def doubled(numbers: Iterator[int]) -> Iterator[int]:
        for number in numbers:
            yield 2 * number

    items = read_ahead(doubled(read_ahead(endless(), depth=2)), depth=2)
    assert [next(items), next(items)] == [0, 2]
    items.close()
    assert closed.wait(5), "the innermost source was closed"
    assert not any(t.name == "focusflow-read-ahead" for t in threading.enumerate())
    stopped_at = len(fetched)
    assert stopped_at <= 10
    assert len(fetched) == stopped_at
