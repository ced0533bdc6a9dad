"""The one exception tree of focusflow; every layer raises from here.

```
FocusflowError
 ├── ConfigError          a setting, flag, environment variable or YAML field is wrong
 ├── InputError           a source's content is wrong (names file, row, column)
 │    └── UnreadableInputError   it cannot be read at all (the CLI's exit code 2)
 ├── SourceError          a source could not be reached or read (network, auth, missing object)
 ├── SinkError            a database or object store refused or failed a write
```

``Interrupted`` (SIGINT/SIGTERM, see ``focusflow.interrupts``) derives from ``BaseException``
like ``KeyboardInterrupt``: no ``except Exception`` can take a stop request for a bad row.

Two marker mixins drive retries, as kopf's TemporaryError/PermanentError do:
``TransientError`` (retry with backoff: timeouts, 5xx, a database restart) and
``PermanentError`` (fail now: bad credentials, bad input). Third-party exceptions are wrapped at
the layer that calls the library (``raise SourceError(...) from exc``) and never escape it.
"""

from __future__ import annotations


class FocusflowError(Exception):
    """Root of every error focusflow raises on purpose."""


class TransientError(FocusflowError):
    """Marker: the same call may succeed later (retry with backoff)."""


class PermanentError(FocusflowError):
    """Marker: retrying cannot help; report and stop."""


class ConfigError(PermanentError):
    """A configuration value is invalid; the message names the field."""


class InputError(PermanentError):
    """A source's content is invalid; carries the file, row and column it concerns.

    Rows count data rows from 1 (CSV line = row + 1); row 0 means the header.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = [part for part in (
            self.file,
            ("header" if self.row == 0 else f"row {self.row}") if self.row is not None else None,
            f"column {self.column}" if self.column else None,
        ) if part]
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class UnreadableInputError(InputError):
    """The input cannot be read at all: empty, binary, not UTF-8, truncated or corrupt, a row
    with the wrong number of fields. Every command exits with code 2 for it (1 keeps its
    meaning: a value or a rule failed)."""


class SourceError(FocusflowError):
    """A source could not be reached or read."""


class TransientSourceError(SourceError, TransientError):
    """A source failed in a way that may pass (timeout, 5xx, throttling)."""


class SinkError(FocusflowError):
    """A sink failed; nothing of the failed load was committed."""


class TransientSinkError(SinkError, TransientError):
    """A sink failed in a way that may pass (connection lost, database restarting)."""


class MissingExtraError(ConfigError):
    """An optional driver is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the Python package {module!r}: "
            f"install it with: pip install 'focusflow[{extra}]'"
        )


class Interrupted(BaseException):
    """SIGINT or SIGTERM asked the process to stop; whatever was in flight is rolled back."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = _signal_name(signum)
        super().__init__(f"interrupted by {self.signal_name}")

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


def _signal_name(signum: int) -> str:
    import signal  # noqa: PLC0415 - only an interrupted run needs the names

    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def is_transient(exc: BaseException) -> bool:
    """True when retrying the failed call may succeed."""
    return isinstance(exc, TransientError)


__all__ = [
    "ConfigError",
    "FocusflowError",
    "InputError",
    "Interrupted",
    "MissingExtraError",
    "PermanentError",
    "SinkError",
    "SourceError",
    "TransientError",
    "TransientSinkError",
    "TransientSourceError",
    "UnreadableInputError",
    "is_transient",
]
