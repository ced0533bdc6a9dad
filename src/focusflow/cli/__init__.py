"""The ``focusflow`` command line: thin wiring from flags to the jobs, output through Rich.

Each command lives in its own module and registers itself on ``app``; ``main`` turns any
``FocusflowError`` into one clear line on stderr and a non-zero exit (a traceback means a bug).
"""

from focusflow.cli.app import app, main

# Command modules register themselves on import.
from focusflow.cli import ingest as _ingest  # noqa: F401, E402  isort: skip
from focusflow.cli import k8s_export as _k8s_export  # noqa: F401, E402  isort: skip
from focusflow.cli import validate as _validate  # noqa: F401, E402  isort: skip
from focusflow.cli import rules as _rules  # noqa: F401, E402  isort: skip
from focusflow.cli import exporter as _exporter  # noqa: F401, E402  isort: skip
from focusflow.cli import scraper as _scraper  # noqa: F401, E402  isort: skip
from focusflow.cli import run as _run  # noqa: F401, E402  isort: skip
from focusflow.cli import operator as _operator  # noqa: F401, E402  isort: skip
from focusflow.cli import azure as _azure  # noqa: F401, E402  isort: skip
from focusflow.cli import plot as _plot  # noqa: F401, E402  isort: skip

__all__ = ["app", "main"]
