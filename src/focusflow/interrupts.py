"""Signals as a clean stop: SIGINT and SIGTERM raise ``Interrupted``, never commit, never a
traceback.

Layer: beside ``errors`` (any layer may import it). An entry point calls ``install``; from then
on a signal raises ``errors.Interrupted`` in the main thread (a ``BaseException``, so no
``except Exception`` swallows it and every transaction rolls back on the way out). Two things
keep a stop request from being mistaken for something else:

- a driver that notices the signal itself (DuckDB checks for signals while a query runs and
  raises its own ``InterruptException``, a ``duckdb.Error``) leaves ``received()`` set: a sink
  calls ``check()`` before it translates a driver error, so an interrupt never reads as refused
  rows or a failed load;
- a sink calls ``hold()`` right before its COMMIT: from then on a signal is remembered, not
  raised, until the command has recorded what was committed and calls ``settle()`` (which acts
  on it). So a commit is never half-interrupted, and a signal arriving just after a COMMIT can
  never make a committed load look lost; the command says what was committed before the stop.

A signal landing during an import is recorded, not raised: a compiled driver's module
initialisation may be running Python from C++, which could only print the exception; the lazy
driver imports call ``check()`` as soon as they return.

A signal landing while Python runs a callback it cannot raise from (a weakref callback, e.g.
importlib's module-lock cleanup during a lazy import, or a ``__del__``) would have its
``Interrupted`` printed as "Exception ignored in ..." with a traceback and dropped. The
``sys.unraisablehook`` installed beside the handlers keeps such a stop silent: it is recorded in
``received()`` already, and the next ``check()`` (every sink calls one before its COMMIT) raises it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from focusflow.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    received: int | None = None  # the first stop signal since ``install``
    held = False  # a sink is committing, or committed and the command has not settled: signals
    # are remembered, not raised
    deferred_to: Callable[[], None] | None = None  # a driver's own cancel, while it runs Python


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.received is None:
        _state.received = signum
    if _state.held or _importing(frame):
        return
    if _state.deferred_to is not None:
        _state.deferred_to()
        return
    raise Interrupted(_state.received)


def _importing(frame: FrameType | None) -> bool:
    """Whether the signal landed inside an import. A compiled driver's module initialisation
    runs Python from C++ (``import duckdb`` builds enums), where an exception can only be
    printed, with a traceback: the stop is recorded and the next ``check()`` raises it (the
    lazy driver imports call one as soon as they return)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def install() -> Callable[[], None]:
    """Route SIGINT/SIGTERM to ``Interrupted`` (main thread only); returns a function that
    puts the previous handlers back (for callers running in-process, such as tests).
    Installed already (by the console script), it keeps what was received meanwhile."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    if signal.getsignal(signal.SIGINT) is _handler:
        return lambda: None
    _state.received = None
    _state.held = False
    previous = {signum: signal.signal(signum, _handler) for signum in SIGNALS}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_stops(previous_hook)

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = previous_hook
        _state.received = None  # what this run received is not the next caller's business
        _state.held = False

    return restore


def _quiet_stops(
    previous: Callable[[sys.UnraisableHookArgs], object],
) -> Callable[[sys.UnraisableHookArgs], None]:
    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, Interrupted):
            return  # recorded in ``received()``; the next ``check()`` raises it
        previous(unraisable)

    return hook


def received() -> int | None:
    """The stop signal received since ``install``, if any."""
    return _state.received


def check() -> None:
    """Raise ``Interrupted`` if a stop signal arrived (e.g. while a driver or a ``hold()``
    held it)."""
    if _state.received is not None:
        raise Interrupted(_state.received)


@contextlib.contextmanager
def deferred(cancel: Callable[[], None]) -> Iterator[None]:
    """While a driver runs a query that calls back into Python (DuckDB pulling an Arrow stream
    that a Python generator feeds), a signal calls the driver's own ``cancel`` instead of raising
    inside the callback: an exception raised there crosses the driver's C++ frames, which can
    only print it (a traceback on stderr). The driver then fails the query with its interrupt
    error, which the sink's ``check()`` turns into ``Interrupted``."""
    previous = _state.deferred_to
    _state.deferred_to = cancel
    try:
        yield
    finally:
        _state.deferred_to = previous


def hold() -> None:
    """Hold stop signals from now until ``settle()``/``release()`` (a sink, right before its
    COMMIT): the commit completes, and the command learns of it before the stop."""
    _state.held = True


def release() -> None:
    """End a ``hold()`` without acting on a held signal (the caller is reporting already)."""
    _state.held = False


def settle() -> None:
    """The command has recorded what was committed: end the ``hold()`` and raise
    ``Interrupted`` if a stop signal arrived meanwhile."""
    release()
    check()


__all__ = ["SIGNALS", "check", "deferred", "hold", "install", "received", "release", "settle"]
