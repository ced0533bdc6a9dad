"""Prometheus metric and label names: sanitised deterministically, never colliding.

Layer: ``exporter``. Krateo registers header text verbatim and panics on ``Resource Id`` or
``Disk Read Bytes/sec``; prometheus_client silently rewrites and may collide (storage.md §6).
Here: ``__name__`` becomes ``metric_name``; leading/trailing ``_`` are stripped (``__`` is
reserved by Prometheus); any other character becomes ``_``; an empty name becomes ``label``; a
leading digit gets a ``label_`` prefix; a repeated result gets ``_2``, ``_3`` (Krateo's generic
rules, applied to every metric type). By default the header casing is kept, as Krateo does
(``BilledCost``); the ``labelNames: snake`` config also turns names into snake_case
(``BilledCost`` → ``billed_cost``), which ``promtool check metrics`` lints without warnings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_INVALID_LABEL = re.compile(r"[^A-Za-z0-9_]")
_INVALID_METRIC = re.compile(r"[^A-Za-z0-9_:]")
_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")


def snake(name: str) -> str:
    """``BilledCost`` → ``billed_cost``, ``SkuPriceID`` → ``sku_price_id``."""
    return _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", name)).lower()


def sanitize_label(name: str, *, snake_case: bool = False) -> str:
    cleaned = _INVALID_LABEL.sub("_", "metric_name" if name == "__name__" else name).strip("_")
    if snake_case:
        cleaned = re.sub("_+", "_", snake(cleaned))
    if not cleaned:
        return "label"
    return f"label_{cleaned}" if cleaned[0].isdigit() else cleaned


def sanitize_labels(
    names: Sequence[str], reserved: Iterable[str] = (), *, snake_case: bool = False
) -> list[str]:
    """Sanitised, unique label names in input order."""
    taken = set(reserved)
    out = []
    for name in names:
        base = sanitize_label(name, snake_case=snake_case)
        candidate, counter = base, 1
        while candidate in taken:
            counter += 1
            candidate = f"{base}_{counter}"
        taken.add(candidate)
        out.append(candidate)
    return out


def sanitize_metric(name: str) -> str:
    cleaned = _INVALID_METRIC.sub("_", name.strip())
    if not cleaned:
        return "metric"
    return f"_{cleaned}" if cleaned[0].isdigit() else cleaned
