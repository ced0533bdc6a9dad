"""The ``focusflow`` command line: thin wiring from flags to the jobs, output through Rich.

Each command lives in its own module and registers itself on the Typer ``app`` when imported.
``main`` imports only the module of the command being run (a CronJob running ``k8s-export``
does not pay for DuckDB, kopf or the validator), and every module for ``--help``; ``app``,
read from this package, has every command registered. ``main`` routes SIGINT/SIGTERM to a
clean stop first (``focusflow.interrupts``: exit 130/143, one line, nothing half-committed),
then turns any ``FocusflowError`` into one clear line on stderr and a non-zero exit (a
traceback means a bug).

Started with no arguments at all (the image's entrypoint in a pod whose manifest gives no
``args``), ``main`` looks at the environment: Finout's CronJob contract (``CLUSTER_NAME`` and
``S3_BUCKET``) means ``k8s-export``, said in one log line, so Finout's CronJob with only the image
swapped runs the export; anything else is one error line and exit 2, never a silent success.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Mapping, Sequence

import typer

from focusflow import interrupts
from focusflow.cli import app as _app_module

del globals()["app"]  # the submodule attribute; ``app`` means the Typer object (below)

# command name -> the module that registers it
COMMAND_MODULES: dict[str, str] = {
    "ingest": "ingest",
    "summary": "ingest",
    "export": "ingest",
    "plot": "plot",
    "report": "report",
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


# The variables Finout's CronJob always sets (its documented required settings).
FINOUT_CONTRACT = ("CLUSTER_NAME", "S3_BUCKET")
# Why a bare start runs what it runs; the command logs it (None: arguments were given).
bare_start_note: str | None = None


def default_command(environ: Mapping[str, str]) -> list[str] | None:
    """The command a bare start runs: ``k8s-export`` under Finout's env contract, else None."""
    if all(environ.get(name, "").strip() for name in FINOUT_CONTRACT):
        return ["k8s-export"]
    return None


def _bare_start() -> None:
    command = default_command(os.environ)
    if command is None:
        # Printing help and exiting 0 would let a Job "succeed" having done nothing.
        print("error: no command given, and no Finout export environment "
              f"({' and '.join(FINOUT_CONTRACT)}) to run k8s-export with; give a command such "
              "as `focusflow k8s-export` or `focusflow exporter --config FILE` "
              "(`focusflow --help` lists them)", file=sys.stderr)
        raise SystemExit(2)
    # Logged by the command once it has set up logging, so the line has the job's log format.
    global bare_start_note  # noqa: PLW0603  (one process, one start)
    bare_start_note = (f"no command given; {' and '.join(FINOUT_CONTRACT)} are set (Finout's "
                       f"CronJob contract): running `focusflow {' '.join(command)}`")
    sys.argv[1:] = command


def main() -> None:
    """Console-script entry point."""
    restore = interrupts.install()  # before the command modules' imports: they take a while
    try:
        if not sys.argv[1:]:
            _bare_start()
        _app_module.main(lambda: _started(load_commands(sys.argv[1:])))
    finally:
        restore()


def _started(app: typer.Typer) -> typer.Typer:
    """The collector back on (``focusflow.__main__`` starts without it), with what the
    imports made frozen: it lives as long as the process, no collection need walk it."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
    return app


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["COMMAND_MODULES", "FINOUT_CONTRACT", "app", "default_command", "load_commands", "main"]
