"""A stop signal landing inside an import (seen once in tests/integration/test_ingest_signals.py).

``import duckdb`` runs Python from its C++ module initialisation (it builds enums there); a
SIGTERM raising ``Interrupted`` at that moment could only be printed by the extension, with a
traceback, and the stop was not clean. Now a signal inside an import is recorded, not raised,
and the lazy driver imports raise it as soon as they return.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from pathlib import Path

import pytest

from focusflow import interrupts
from focusflow.errors import Interrupted
from focusflow.sinks import open_sink


def test_a_signal_inside_an_import_is_raised_by_the_next_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _module_signalling_itself(tmp_path, "slow_driver")
    monkeypatch.syspath_prepend(str(tmp_path))
    restore = interrupts.install()
    try:
        module = importlib.import_module("slow_driver")
        assert module.INITIALISED  # the import completed: nothing raised inside it
        assert interrupts.received() == signal.SIGTERM
        with pytest.raises(Interrupted) as stopped:
            interrupts.check()
        assert stopped.value.exit_code == 143
    finally:
        restore()
        sys.modules.pop("slow_driver", None)


def _module_signalling_itself(folder: Path, name: str) -> None:
    (folder / f"{name}.py").write_text(
        "import os, signal\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "for _ in range(10000):  # the handler runs at a bytecode boundary in here\n"
        "    pass\n"
        "INITIALISED = True\n")


def test_open_sink_stops_before_opening_when_the_signal_came_during_an_import(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _module_signalling_itself(tmp_path, "driver_like")
    monkeypatch.syspath_prepend(str(tmp_path))
    restore = interrupts.install()
    try:
        importlib.import_module("driver_like")  # the stop is recorded, not raised
        db = tmp_path / "x.duckdb"
        with pytest.raises(Interrupted):  # the lazy driver import checks as it returns
            open_sink(f"duckdb:///{db}")
        assert not db.exists()
    finally:
        restore()
        sys.modules.pop("driver_like", None)


def test_outside_an_import_a_signal_is_raised_at_once() -> None:
    restore = interrupts.install()
    try:
        with pytest.raises(Interrupted):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
    finally:
        restore()
