"""The ``focusflow`` console script and ``python -m focusflow``.

It routes SIGINT/SIGTERM to a clean stop (``focusflow.interrupts``) before importing anything
heavy, so a signal even while the command's libraries load ends in one line and 130/143,
never a ``KeyboardInterrupt`` traceback.
"""

from __future__ import annotations

import gc
import os
import sys

from focusflow import interrupts
from focusflow.errors import Interrupted


def main() -> None:
    """Install the stop-signal handler, then run the command line."""
    # Start-up only builds what lives as long as the process (modules, classes, the command
    # table), so the cyclic collector's ~130 passes over it find nothing: about 25 ms of CPU
    # per command, a full pass 15 ms of it. ``focusflow.cli.main`` freezes what the imports
    # made and turns the collector back on before the command runs.
    gc.disable()
    # numpy (imported by pyarrow) starts an OpenBLAS thread pool whose threads spin at start-up:
    # about 0.1 s of CPU per command, and focusflow does no linear algebra.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    interrupts.install()
    try:
        from focusflow.cli import main as cli_main  # noqa: PLC0415 - after the handler
    except Interrupted as exc:
        sys.stderr.write(f"error: {exc}: stopped before starting; nothing was loaded or written\n")
        raise SystemExit(exc.exit_code) from None
    try:
        cli_main()
    finally:
        # The process ends here. Python's last full collection would walk every object once
        # more (0.1 s after a run that imported DuckDB, Arrow and pandas) only for the exit to
        # free them all; frozen, it walks none. atexit handlers (logging's flush) still run,
        # and every sink, connection and temporary directory is closed before this point.
        gc.freeze()


if __name__ == "__main__":
    main()
