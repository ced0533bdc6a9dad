"""Option parsing shared by commands: turning flags into the model's option objects."""

from __future__ import annotations

from pydantic import SecretStr

from focusflow.errors import ConfigError
from focusflow.focus import HttpOptions


def http_options(
    headers: list[str] | None, bearer_token: str | None, username: str | None,
    password: str | None, ca_file: str | None, insecure: bool,
) -> HttpOptions:
    """HTTP options from repeated ``Name: value`` headers and auth flags."""
    parsed: dict[str, str] = {}
    for header in headers or []:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise ConfigError(f"--header {header.split(':')[0]!r}: expected 'Name: value'")
        parsed[name.strip()] = value.strip()
    return HttpOptions(
        headers=parsed,
        bearer_token=SecretStr(bearer_token) if bearer_token else None,
        username=username,
        password=SecretStr(password) if password else None,
        ca_file=ca_file,
        insecure=insecure,
    )
