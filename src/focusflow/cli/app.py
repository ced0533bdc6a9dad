"""The Typer application object and the error boundary every command runs inside."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from focusflow import interrupts, redaction
from focusflow.cli import logs
from focusflow.errors import ConfigError, FocusflowError, Interrupted, UnreadableInputError

EXIT_UNREADABLE = 2  # every command: the input cannot be read at all (1: anything else failed)

app = typer.Typer(
    name="focusflow",
    help="FOCUS cost reports and Prometheus usage into databases, metrics and object storage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


LogLevel = Annotated[str, typer.Option(
    "--log-level", envvar="FOCUSFLOW_LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR.")]
LogJson = Annotated[bool, typer.Option(
    "--log-json", envvar="FOCUSFLOW_LOG_JSON",
    help="Logs and errors as one JSON object per line.")]


@app.callback()
def _root(log_level: LogLevel = "INFO", log_json: LogJson = False) -> None:
    """FOCUS cost reports and Prometheus usage into databases, metrics and object storage."""
    # A callback keeps Typer in group mode when only one command module is loaded (see
    # focusflow.cli.main); without it a lone command would swallow its own name. Logging is
    # set up here for every command (redacted); a command's own --log-level/--log-json redo it.
    setup_logging(log_level, log_json)


def utc_moment(flag: str, value: str, expected: str) -> datetime:
    """``value`` as an aware datetime (ISO 8601, ``Z`` accepted, naive means UTC), or a
    ``ConfigError`` naming ``flag`` and what was ``expected``."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{flag} {value!r}: expected {expected}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one error line (a JSON record under ``--log-json``) and return the ``Exit``."""
    record = logs.error_line(message)
    if record is not None:
        sys.stderr.write(record + "\n")
    else:
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False,
                          soft_wrap=True)
    return typer.Exit(code)


def setup_logging(level: str = "INFO", json_format: bool = False) -> None:
    """Configure the root logger (text or JSON, redacted); only entry points call this."""
    logs.setup_logging(level, json_format)


def main(load: Callable[[], object] = lambda: None) -> None:
    """Console-script entry point: ``load`` registers the commands, then the app runs.

    A stop signal ends the run with one line and 128 + its number, whatever error it caused
    on the way (a driver's own "interrupted" error, a refused write): never a traceback.
    """
    redaction.remember_environment()
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = redaction.RedactingStream(sys.stdout), redaction.RedactingStream(
        sys.stderr)  # the edge: whatever any library prints passes the one redaction layer
    try:
        load()
        app()  # standalone mode: exits itself on success and on usage errors
    except SystemExit as done:
        interrupts.release()
        signum = interrupts.received()
        if done.code in (0, None) and signum is not None:  # held through the last COMMIT
            raise SystemExit(interrupted(signum, "arrived after the work was done; everything "
                                         "reported above was committed").exit_code) from None
        raise
    except Interrupted as exc:
        raise SystemExit(interrupted(exc.signum).exit_code) from None
    except Exception as exc:
        signum = interrupts.received()
        if signum is not None:
            raise SystemExit(interrupted(signum).exit_code) from None
        if isinstance(exc, FocusflowError):
            code = EXIT_UNREADABLE if isinstance(exc, UnreadableInputError) else 1
            raise SystemExit(fail(str(exc), code).exit_code) from None
        raise
    finally:
        sys.stdout, sys.stderr = streams


def interrupted(signum: int, what: str = "stopped before finishing; nothing was loaded or "
                "written") -> typer.Exit:
    """Print the one line of a run a signal stopped and return the ``Exit`` (128 + signal)."""
    stop = Interrupted(signum)
    return fail(f"{stop}: {what}", stop.exit_code)
