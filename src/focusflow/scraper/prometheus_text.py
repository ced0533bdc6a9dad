"""Read a Krateo-style ``/metrics`` exposition back into rows (the scraper's fallback path).

Layer: ``scraper``. Parsed with ``prometheus_client``'s text parser; every sample of the wanted
family becomes one row: its labels as string columns (snake_case FOCUS labels such as
``billed_cost`` are given their FOCUS names, ``BilledCost``) plus ``value``. The exposition is
lossy by nature (no ``x_*`` columns, values as floats); the lossless path is ``/rows``.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
from prometheus_client.parser import text_string_to_metric_families

from focusflow.errors import InputError
from focusflow.focus import lookup

DUPLICATE_LABEL = "duplicate"


def _column_name(label: str) -> str:
    pascal = "".join(part[:1].upper() + part[1:] for part in label.split("_"))
    column = lookup(pascal) or lookup(label)
    return column.name if column else label


def metrics_to_table(text: str, metric_name: str) -> tuple[pa.Table, str]:
    """(rows of family ``metric_name``, a digest of them that ignores other families)."""
    rows: list[dict[str, str]] = []
    values: list[float] = []
    digest = hashlib.sha256()
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise InputError(f"unparseable Prometheus exposition ({exc})") from exc
    for family in families:
        for sample in family.samples:
            if sample.name != metric_name:
                continue
            kept = {k: v for k, v in sample.labels.items() if k != DUPLICATE_LABEL}
            rows.append(kept)
            values.append(sample.value)
            digest.update(repr((sorted(sample.labels.items()), sample.value)).encode())
    if not rows:
        raise InputError(f"the exposition has no {metric_name!r} samples")
    labels = list(dict.fromkeys(k for row in rows for k in row))
    columns = {}
    for key in labels:
        name = _column_name(key)
        cells = [row.get(key, "") for row in rows]
        if name == "Tags":
            cells = [_krateo_tags(cell) for cell in cells]
        columns[name] = pa.array(cells, pa.string())
    if "BilledCost" not in columns and metric_name == "billed_cost":
        columns["BilledCost"] = pa.array([repr(v) for v in values], pa.string())
    columns.setdefault("value", pa.array(values, pa.float64()))
    return pa.table(columns), digest.hexdigest()[:32]


def _krateo_tags(cell: str) -> str:
    """Krateo's ``k: v;k2: v2`` Tags label back to a JSON object (best effort)."""
    if not cell or cell.lstrip().startswith("{"):
        return cell
    pairs = [part.split(":", 1) for part in cell.split(";") if ":" in part]
    return json.dumps({k.strip(): v.strip() for k, v in pairs})
