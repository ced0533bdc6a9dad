"""Where the ``/rows`` bearer token comes from: a value, a file, or nowhere (runtime layer).

The exporter checks and the scraper sends the same per-pipeline token. In Kubernetes the
operator writes it into a Secret both pods mount; the file is read again on every use, so a
token the operator replaces (the CR changed) takes effect without a restart. Outside
Kubernetes it comes from ``--rows-token`` / ``FOCUSFLOW_ROWS_TOKEN`` or ``--rows-token-file``;
``focusflow run`` makes one per process. The value is a ``SecretStr``: never logged.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from focusflow import redaction
from focusflow.errors import ConfigError

TokenSource = Callable[[], SecretStr | None]
"""Returns the current token (``None``: no token configured)."""


def fixed_token(value: str | SecretStr) -> TokenSource:
    token = value if isinstance(value, SecretStr) else SecretStr(value)
    redaction.remember(token)
    if not token.get_secret_value().strip():
        raise ConfigError("rows token: empty (set a value or leave it unset)")
    return lambda: token


def file_token(path: Path) -> TokenSource:
    """The token in ``path`` (whitespace stripped), read at every use; a missing or empty
    file is a ``ConfigError`` at start and denies every request later (never opens /rows)."""
    def read() -> SecretStr:
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"--rows-token-file {path}: cannot read ({exc.strerror})") from exc
        if not value:
            raise ConfigError(f"--rows-token-file {path}: empty")
        redaction.remember(value)
        return SecretStr(value)

    read()

    def current() -> SecretStr:
        try:
            return read()
        except ConfigError:
            return SecretStr(secrets.token_urlsafe(32))  # unreadable now: nobody matches
    return current


def token_source(value: SecretStr | str | None, path: Path | None) -> TokenSource | None:
    """The token a command was given (flag/env value or file), or None for an open /rows."""
    if value is not None and path is not None:
        raise ConfigError("--rows-token and --rows-token-file: give one, not both")
    if path is not None:
        return file_token(path)
    if value is not None:
        return fixed_token(value)
    return None


def new_token() -> SecretStr:
    """A fresh random token (``focusflow run``: exporters and scrapers of one process)."""
    return SecretStr(secrets.token_urlsafe(32))
