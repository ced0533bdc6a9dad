"""A signal between a sink's COMMIT and the command's record of it (issue 15 item 3).

Before: a SIGTERM landing just after a Delta commit raised in the sink's bookkeeping, and
``focusflow ingest`` said "nothing was loaded" about a committed load (seen once in the signal
loop of tests/integration/test_ingest_signals.py). Now the sink holds signals from right before
its COMMIT until the command settles; the load is committed, and the stop comes after.
"""

from __future__ import annotations

import os
import signal
import weakref
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from focusflow import interrupts
from focusflow.errors import Interrupted
from focusflow.sinks import LoadRequest, open_sink


def _request() -> LoadRequest:
    schema = pa.schema([pa.field("BilledCost", pa.decimal128(38, 18))])
    batch = pa.record_batch([pa.array([1], pa.decimal128(38, 18))], schema=schema)
    return LoadRequest(table="focus", source_id="s", schema=schema, batches=[batch])


def test_a_signal_after_the_commit_waits_for_the_command(tmp_path: Path) -> None:
    restore = interrupts.install()
    try:
        sink = open_sink(f"duckdb:///{tmp_path / 'x.duckdb'}")
        try:
            result = sink.load(_request())  # committed, and holding signals
            os.kill(os.getpid(), signal.SIGTERM)  # arrives before the command has recorded it
            assert result.rows_written == 1  # no exception: the handler only remembered it
            assert interrupts.received() == signal.SIGTERM
            with pytest.raises(Interrupted) as stopped:
                interrupts.settle()  # the command has recorded the load: now it stops
            assert stopped.value.exit_code == 143
            assert sink.query("focus", "SELECT COUNT(*) AS n FROM {table}").column(0)[0] \
                .as_py() == 1
        finally:
            sink.close()
    finally:
        restore()


def test_without_a_hold_a_signal_stops_at_once() -> None:
    restore = interrupts.install()
    try:
        with pytest.raises(Interrupted):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs at the next bytecode boundary
                pass
    finally:
        restore()


def test_a_signal_while_duckdb_pulls_python_rows_cancels_the_query(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # The rows reach DuckDB through a Python generator that DuckDB calls from inside its query.
    # Under load a signal raised there once crossed DuckDB's C++ frames, which printed a
    # "Critical nanobind error" and a traceback; the race did not reproduce on demand, so this
    # pins the outcome the sink's deferral guarantees: the stop, nothing committed, silence.
    schema = pa.schema([pa.field("BilledCost", pa.decimal128(38, 18))])

    def rows() -> Iterator[pa.RecordBatch]:
        for number in range(50):
            if number == 10:
                signal.raise_signal(signal.SIGINT)
            yield pa.record_batch([pa.array([number], pa.decimal128(38, 18))], schema=schema)

    restore = interrupts.install()
    try:
        sink = open_sink(f"duckdb:///{tmp_path / 'x.duckdb'}")
        try:
            sink.load(_request())
            request = LoadRequest(table="focus", source_id="t", schema=schema, batches=rows())
            with pytest.raises(Interrupted) as stopped:
                sink.load(request)
            assert stopped.value.exit_code == 130
            count = sink.query("focus", "SELECT COUNT(*) AS n FROM {table}").column("n")
            assert count.to_pylist() == [1]  # the earlier load only: nothing committed
        finally:
            sink.close()
    finally:
        restore()
    assert capfd.readouterr().err == ""


def test_a_signal_inside_a_callback_that_cannot_raise_is_kept_for_the_next_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A stop landing in a weakref callback (importlib's module-lock cleanup during a lazy
    import, seen in the signal loop) is neither printed as a traceback nor lost."""
    class Thing:
        pass

    def callback(_: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs here, inside the callback
            pass

    restore = interrupts.install()
    try:
        thing = Thing()
        ref = weakref.ref(thing, callback)
        del thing  # the callback runs; its Interrupted cannot propagate out of it
        assert ref() is None
        assert "Traceback" not in capsys.readouterr().err
        assert interrupts.received() == signal.SIGTERM
        with pytest.raises(Interrupted) as stopped:
            interrupts.check()
        assert stopped.value.exit_code == 143
    finally:
        restore()
