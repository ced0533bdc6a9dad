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
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from focusflow import interrupts
from focusflow.errors import Interrupted
from focusflow.sinks import open_sink


@pytest.fixture
def signalled_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A module whose import sends this process SIGTERM, imported with the stop handlers on."""
    (tmp_path / "signalling.py").write_text(
        "import os, signal\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "for _ in range(10000):  # the handler runs at a bytecode boundary in here\n"
        "    pass\n"
        "INITIALISED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    restore = interrupts.install()
    try:
        yield importlib.import_module("signalling")
    finally:
        restore()
        sys.modules.pop("signalling", None)


def test_a_signal_inside_an_import_is_raised_by_the_next_check(
        signalled_import: ModuleType) -> None:
    assert signalled_import.INITIALISED  # the import completed: nothing raised inside it
    assert interrupts.received() == signal.SIGTERM
    with pytest.raises(Interrupted, match="interrupted by SIGTERM"):
        interrupts.check()


def test_open_sink_stops_before_opening_when_the_signal_came_during_an_import(
        signalled_import: ModuleType, tmp_path: Path) -> None:
    assert signalled_import.INITIALISED  # the stop was recorded, not raised
    db = tmp_path / "x.duckdb"
    with pytest.raises(Interrupted):  # the lazy driver import checks as it returns
        open_sink(f"duckdb:///{db}")
    assert not db.exists()


def test_outside_an_import_a_signal_is_raised_at_once() -> None:
    restore = interrupts.install()
    try:
        with pytest.raises(Interrupted):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
    finally:
        restore()
