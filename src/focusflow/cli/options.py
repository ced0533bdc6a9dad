"""Option parsing shared by commands: turning flags into the model's option objects."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import SecretStr

from focusflow import redaction
from focusflow.errors import ConfigError
from focusflow.focus import HttpOptions
from focusflow.focus.formats import DEFAULT_NULL_TOKENS

NullValueOption = Annotated[list[str] | None, typer.Option(
    "--null-value", metavar="TOKEN",
    help="CSV: another unquoted token that means null, besides an empty field and NULL "
         "(repeatable; a quoted value is always text).")]


def null_values(tokens: list[str] | None) -> tuple[str, ...]:
    """The unquoted CSV tokens read as null: NULL plus each ``--null-value``."""
    for token in tokens or []:
        if token != token.strip() or '"' in token or "," in token:
            raise ConfigError(f"--null-value {token!r}: expected a token without quotes, "
                              "commas or surrounding spaces")
    return tuple(dict.fromkeys([*DEFAULT_NULL_TOKENS, *(tokens or [])]))


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
    redaction.remember(bearer_token, password)
    return HttpOptions(
        headers=parsed,
        bearer_token=SecretStr(bearer_token) if bearer_token else None,
        username=username,
        password=SecretStr(password) if password else None,
        ca_file=ca_file,
        insecure=insecure,
    )
