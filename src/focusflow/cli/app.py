"""The Typer application object and the error boundary every command runs inside."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import typer
from rich.console import Console

from focusflow.errors import ConfigError, FocusflowError, UnreadableInputError

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


@app.callback()
def _root() -> None:
    """FOCUS cost reports and Prometheus usage into databases, metrics and object storage."""
    # A callback keeps Typer in group mode when only one command module is loaded (see
    # focusflow.cli.main); without it a lone command would swallow its own name.


def utc_moment(flag: str, value: str, expected: str) -> datetime:
    """``value`` as an aware datetime (ISO 8601, ``Z`` accepted, naive means UTC), or a
    ``ConfigError`` naming ``flag`` and what was ``expected``."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{flag} {value!r}: expected {expected}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one error line and return the ``Exit`` to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def setup_logging(level: str = "INFO", json_format: bool = False) -> None:
    """Configure the root logger; only entry points call this."""
    handler = logging.StreamHandler(sys.stderr)
    if json_format:
        fmt = (
            '{"time":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s",'
            '"msg":"%(message)s"}'
        )
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def main() -> None:
    """Console-script entry point."""
    try:
        app()  # standalone mode: exits itself on success and on usage errors
    except FocusflowError as exc:
        code = EXIT_UNREADABLE if isinstance(exc, UnreadableInputError) else 1
        raise SystemExit(fail(str(exc), code).exit_code) from None
