"""How Krateo's Go exporter spells values it converts from JSON, reproduced for label text.

Layer: ``exporter``. Label values are what Krateo's PromQL and e2e expectations compare, so
where Krateo's exporter (krateoplatformops/finops-prometheus-exporter, ``internal/handlers/
helpers.go``; finops-prometheus-exporter-generic ``internal/utils/utils.go``) builds text from
JSON, focusflow spells it the same way:

- ``quantity_text``: ``resource.Quantity.AsDec().String()`` (FocusConfig quantities, Azure
  Monitor ``average``): plain decimal digits, never an exponent; a JSON number in its
  shortest form (the API server keeps whole numbers as integers: ``27000.0`` → ``27000``);
- ``rfc3339_utc``: ``metav1.Time`` printed with ``time.RFC3339``: UTC, to the second, ``Z``;
- ``go_sprint``: ``fmt.Sprint`` of a decoded JSON value (arbitrary JSON in ``generic`` mode):
  numbers are float64 printed ``%g``-shortest (``1.40`` → ``1.4``, ``1000000`` → ``1e+06``);
- ``rfc3339_nano``: a Prometheus API sample time as ``time.Unix(s, ns).UTC()`` with
  ``time.RFC3339Nano`` (fraction trimmed of trailing zeros).

Where Go would lose information focusflow does not follow: integers beyond 2^53 keep their
digits, nested JSON objects stay JSON (Go prints ``map[k:v]``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

_EXACT_INT = 2**53  # float64 holds every integer up to here
_MIN_PLAIN, _MAX_PLAIN = -4, 6  # Go's shortest %g: plain digits for exponents in [-4, 6)


def quantity_text(value: Any) -> str | None:
    """A quantity as ``AsDec().String()`` spells it (None stays None).

    A quantity string keeps its own digits (``"1.50"``) with any exponent expanded; text
    that is not a number is kept as written.
    """
    if value is None or isinstance(value, bool):
        return go_sprint(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        value = Decimal(repr(value)) if math.isfinite(value) else repr(value)
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return format(number, "f") if number.is_finite() else text


def rfc3339_utc(value: str) -> str:
    """An RFC 3339 time in UTC to the second with ``Z``; text without an offset is kept."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return value  # Krateo refuses it; the typed conversion names the cell
    if moment.tzinfo is None:
        return value
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def go_float(value: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)``: shortest digits, exponent below 1e-4 or from
    1e+06 (``%e`` with at least two exponent digits)."""
    special = {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf", "0.0": "0", "-0.0": "-0"}
    if repr(value) in special:
        return special[repr(value)]
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)  # noqa: S101 - finite here
    text = "".join(map(str, digits))
    point = len(text) + exponent  # position of the decimal point in the digits
    magnitude = point - 1
    head = "-" if sign else ""
    if magnitude < _MIN_PLAIN or magnitude >= _MAX_PLAIN:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        body = f"{mantissa}e{'-' if magnitude < 0 else '+'}{abs(magnitude):02d}"
    elif point <= 0:
        body = f"0.{'0' * -point}{text}"
    elif point >= len(text):
        body = text + "0" * (point - len(text))
    else:
        body = f"{text[:point]}.{text[point:]}"
    return head + body


def go_sprint(value: Any) -> str | None:
    """``fmt.Sprint`` of a JSON value decoded by Go (numbers are float64); None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) > _EXACT_INT:
        return str(value)  # float64 would round it: keep the digits
    if isinstance(value, int | float):
        return go_float(float(value))
    return orjson.dumps(value).decode()


def rfc3339_nano(seconds: float) -> str:
    """Krateo's Prometheus sample time: whole seconds, then ``(v - s) * 1e9`` nanoseconds."""
    whole = int(seconds)
    nanos = int((seconds - whole) * 1e9)
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=whole)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"
