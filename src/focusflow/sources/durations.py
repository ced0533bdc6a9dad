"""Go ``time.Duration`` strings (``30s``, ``1h30m``, ``300ms``) as Krateo configs spell them.

Layer: ``sources``. Also accepts the ``{duration: 1h0m0s}`` mapping Go's yaml.v3 renders and a
bare number of seconds, so both forms of a Krateo ``config.yaml`` parse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from focusflow.errors import ConfigError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
          "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(value: object, *, field: str = "duration") -> float:
    """Seconds of a Go duration string, a ``{duration: ...}`` mapping or a number."""
    if isinstance(value, Mapping):
        inner = value.get("duration", value.get("Duration"))
        if inner is None:
            raise ConfigError(f"{field}: expected a Go duration such as '1h' or "
                              "{duration: 1h0m0s}, found a mapping without 'duration'")
        return parse_duration(inner, field=field)
    if isinstance(value, bool):
        raise ConfigError(f"{field}: expected a Go duration such as '30s' or '1h30m'")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{field}: expected a Go duration such as '30s' or '1h30m'")
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    total, position = 0.0, 0
    for match in _PART.finditer(body):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not body or position != len(body):
        raise ConfigError(f"{field}: {value!r} is not a Go duration (expected e.g. '30s', "
                          "'5m', '1h30m')")
    return sign * total


def format_duration(seconds: float) -> str:
    """A compact Go-style rendering, e.g. ``1h30m`` or ``45s``."""
    whole = int(seconds)
    if whole != seconds or whole == 0:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
