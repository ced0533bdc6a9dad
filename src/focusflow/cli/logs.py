"""Logging for every command: one handler on the root logger, text or JSON, always redacted.

Layer: ``cli`` (only entry points configure logging). ``--log-json`` writes one JSON object per
line for every record — focusflow's, third-party libraries', warnings, uncaught exceptions
(``exc`` holds the traceback as one string) — and the one-line errors too. Every formatted
record passes ``redaction.redact``. Chatty HTTP clients (httpx logs each request URL at INFO)
stay at WARNING unless ``--log-level DEBUG`` asks for them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from datetime import UTC, datetime
from types import TracebackType

from focusflow.redaction import redact

QUIET_LIBRARIES = ("httpx", "httpcore", "botocore", "boto3", "urllib3", "s3transfer",
                   "azure", "kubernetes", "deltalake", "kopf.objects", "aiohttp")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_HANDLER = "focusflow"


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, redacted (traceback included)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, msg and, when there is one, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(record.stack_info)
        for key in ("rows", "bytes", "rate", "file"):  # progress fields, machine-readable
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _State:
    json = False


state = _State()


def setup_logging(level: str = "INFO", json_format: bool = False) -> None:
    """Configure the root logger (stderr, text or JSON, redacted); only entry points call it."""
    name = level.upper()
    if name not in LEVELS:
        from focusflow.errors import ConfigError  # noqa: PLC0415 - only on a mistake

        raise ConfigError(f"--log-level {level!r}: expected one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    handler.set_name(_HANDLER)
    root = logging.getLogger()
    # Ours replaced, others kept (a test harness's capture handler).
    root.handlers[:] = [*(h for h in root.handlers if h.get_name() != _HANDLER), handler]
    root.setLevel(name)
    state.json = json_format
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel(logging.DEBUG if name == "DEBUG" else logging.WARNING)
    logging.captureWarnings(True)
    if json_format:  # an exception nobody caught is a record too, not raw text
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_thread_exception


def _log_uncaught(kind: type[BaseException], exc: BaseException,
                  tb: TracebackType | None) -> None:
    logging.getLogger("focusflow").critical("uncaught %s: %s", kind.__name__, exc,
                                            exc_info=(kind, exc, tb))


def _log_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    exc = args.exc_value or args.exc_type()
    logging.getLogger("focusflow").error(
        "thread %s: %s: %s", args.thread.name if args.thread else "?", args.exc_type.__name__,
        exc, exc_info=(args.exc_type, exc, args.exc_traceback))


def error_line(message: str) -> str | None:
    """The one-line error as a JSON record when ``--log-json`` is on, else None."""
    if not state.json:
        return None
    return json.dumps({
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": "ERROR",
        "logger": "focusflow", "msg": redact(message),
    }, ensure_ascii=False)


class ProgressLog:
    """Progress of a long operation as log lines every ``every`` seconds (for Jobs and pipes,
    where a progress bar shows nothing): rows, bytes (of the total when known) and rate."""

    def __init__(self, name: str, every: float | None = None) -> None:
        self.name = name
        # FOCUSFLOW_PROGRESS_SECONDS: how often (tests set 0: every batch)
        self.every = every if every is not None else float(
            os.environ.get("FOCUSFLOW_PROGRESS_SECONDS", "5"))
        self.started = time.monotonic()
        self.last = self.started
        self.log = logging.getLogger("focusflow.progress")

    def __call__(self, done: int, total: int | None, rows: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-6)
        of = f" of {_megabytes(total)}" if total else ""
        self.log.info("%s: %s rows, %s read%s, %s/s", self.name, f"{rows:,}", _megabytes(done),
                      of, _megabytes(rate),
                      extra={"file": self.name, "rows": rows, "bytes": done, "rate": int(rate)})


    def hours(self, done: int, total: int) -> None:
        """Progress counted in hours (allocation)."""
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        self.log.info("%s: %d of %d hours", self.name, done, total,
                      extra={"file": self.name, "rows": done})


def _megabytes(count: float) -> str:
    return f"{count / 1e6:,.1f} MB"
