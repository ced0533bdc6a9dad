"""Krateo's ``<var>`` placeholder substitution, with its upper-case environment-variable rule.

Layer: ``sources``. Placeholders ``<name>`` in an API path or a ``server-url`` take the value of
``additionalVariables[name]``. As in Krateo, a value that names an environment variable is
replaced by that variable's value, but only when it matches ``^[A-Z_][A-Z0-9_]*$`` (Krateo also
treats digit-only values and missing keys as variable names, which turns ``"8080"`` into ``""``:
requirement R8). Substituted text is never scanned again, so a value holding ``<x>`` cannot loop.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"<(.*?)>")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def resolve_variable(value: str, environ: Mapping[str, str] | None = None) -> str:
    """The value itself, or the environment variable it names (upper-case names only)."""
    if _ENV_NAME.fullmatch(value):
        env = os.environ if environ is None else environ
        return env.get(value, "")
    return value


def substitute(
    text: str, variables: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> str:
    """``text`` with every ``<name>`` replaced (missing names become ``""`` with a warning)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            logger.warning("additionalVariables has no %r; <%s> becomes empty", name, name)
            return ""
        return resolve_variable(str(variables[name]), environ)

    return _PLACEHOLDER.sub(replace, text)
