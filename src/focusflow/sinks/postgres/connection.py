"""PostgreSQL connection settings and error wrapping for the PostgreSQL sink (sinks layer).

A ``postgresql://user[:password]@host:port/db?param=...`` URL is parsed once into
``PostgresConfig``: the password (from the URL, else ``PGPASSWORD``) is held as a ``SecretStr``
and never appears in the display name, in logs or in error messages (they are scrubbed as a
second line of defence, since a driver message could echo a conninfo). Remote servers get
``sslmode=verify-full`` unless the URL says otherwise. psycopg errors are
wrapped here: a failed or lost connection is a ``TransientSinkError`` (retry later), anything
else a ``SinkError``.
"""

from __future__ import annotations

import ipaddress
import os

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import BaseModel, ConfigDict, SecretStr

from focusflow import redaction
from focusflow.errors import ConfigError, SinkError, TransientSinkError

DEFAULT_CONNECT_TIMEOUT = 10


class PostgresConfig(BaseModel):
    """Where and how to connect; built from a URL by ``from_url``."""

    model_config = ConfigDict(frozen=True)

    params: dict[str, str]
    password: SecretStr | None = None

    @classmethod
    def from_url(cls, url: str) -> PostgresConfig:
        try:
            params = {key: str(value) for key, value in conninfo_to_dict(url).items()}
        except psycopg.Error as exc:
            # The message may quote the URL; say only what is wrong with its shape.
            raise ConfigError(
                "invalid PostgreSQL URL: expected postgresql://user[:password]@host[:port]/db"
            ) from exc
        password = params.pop("password", None) or os.environ.get("PGPASSWORD") or None
        redaction.remember(password)
        params.setdefault("connect_timeout", str(DEFAULT_CONNECT_TIMEOUT))
        if "sslmode" not in params and not _is_local(params.get("host", "")):
            # TLS verification on by default (libpq's own default, "prefer", verifies nothing);
            # the system trust store unless the URL names a root certificate.
            params["sslmode"] = "verify-full"
            params.setdefault("sslrootcert", "system")
        return cls(params=params, password=SecretStr(password) if password else None)

    @property
    def display(self) -> str:
        """A credential-free name for messages: ``postgresql://user@host:port/db``."""
        user = self.params.get("user", "")
        host = self.params.get("host", "")
        port = self.params.get("port", "")
        where = f"{host}:{port}" if port.strip(",") else host  # multi-host URLs: "5432,5433"
        return f"postgresql://{user + '@' if user else ''}{where}/{self.params.get('dbname', '')}"

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        """An open connection (session time zone UTC), or ``TransientSinkError``."""
        kwargs: dict[str, str] = dict(self.params)
        if self.password is not None:
            kwargs["password"] = self.password.get_secret_value()
        # UTC so timestamptz text (COPY TO, to_char) is the same whoever connects.
        kwargs["options"] = f"{kwargs.get('options', '')} -c TimeZone=UTC".strip()
        try:
            return psycopg.connect(make_conninfo("", **kwargs))
        except psycopg.Error as exc:
            raise self.error(exc, "cannot connect") from exc

    def error(self, exc: psycopg.Error, doing: str) -> SinkError:
        """The focusflow error for a psycopg error: one line, no password."""
        kind = TransientSinkError if isinstance(exc, psycopg.OperationalError) else SinkError
        return kind(self.redact(f"postgres {self.display}: {doing}: {describe(exc)}"))

    def redact(self, text: str) -> str:
        if self.password is not None and self.password.get_secret_value():
            text = text.replace(self.password.get_secret_value(), "***")
        return text


def _is_local(hosts: str) -> bool:
    """True for Unix sockets and loopback hosts, where TLS protects nothing."""
    return all(_is_local_host(host) for host in hosts.split(","))


def _is_local_host(host: str) -> bool:
    if not host or host.startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def describe(exc: psycopg.Error) -> str:
    """The primary message of a server or driver error, plus where COPY was, on one line."""
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None else None
    text = primary or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    context = diag.context if diag is not None else None
    if context:
        text += f" ({context.strip().splitlines()[0]})"
    return " ".join(text.split())
