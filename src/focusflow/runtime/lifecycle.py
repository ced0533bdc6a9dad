"""Process lifecycle for long-running commands: a stop event set by SIGTERM/SIGINT.

Layer: ``runtime``. Kubernetes stops pods with SIGTERM; the loops wait on the event instead of
sleeping, so they stop promptly and never mid-load.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM and SIGINT set (main thread only)."""
    stop = threading.Event()

    def handler(signum: int, _: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
    return stop
