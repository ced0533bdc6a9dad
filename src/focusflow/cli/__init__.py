"""The ``focusflow`` command line: thin wiring from flags to the jobs, output through Rich.

Each command lives in its own module and registers itself on the Typer ``app`` when imported.
``main`` imports only the module of the command being run (a CronJob running ``k8s-export``
does not pay for DuckDB, kopf or the validator), and every module for ``--help``; ``app``,
read from this package, has every command registered. ``main`` turns any ``FocusflowError``
into one clear line on stderr and a non-zero exit (a traceback means a bug).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer

from focusflow.cli import app as _app_module

del globals()["app"]  # the submodule attribute; ``app`` means the Typer object (below)

# command name -> the module that registers it
COMMAND_MODULES: dict[str, str] = {
    "ingest": "ingest",
    "summary": "ingest",
    "export": "ingest",
    "plot": "plot",
    "validate": "validate",
    "rules": "rules",
    "exporter": "exporter",
    "scraper": "scraper",
    "run": "run",
    "k8s-export": "k8s_export",
    "operator": "operator",
    "azure": "azure",
    "allocate": "allocate",
}


def load_commands(argv: Sequence[str] | None = None) -> typer.Typer:
    """Register the command ``argv`` names (or every command) and return the app."""
    name = next((arg for arg in argv or () if not arg.startswith("-")), None)
    modules = [COMMAND_MODULES[name]] if name in COMMAND_MODULES else COMMAND_MODULES.values()
    for module in dict.fromkeys(modules):
        importlib.import_module(f"focusflow.cli.{module}")
    return _app_module.app


def main() -> None:
    """Console-script entry point."""
    load_commands(sys.argv[1:])
    _app_module.main()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["COMMAND_MODULES", "app", "load_commands", "main"]
