"""Turn a fetched response into the rows of a snapshot, by content type and ``metricType``.

Layer: ``exporter``. Content types follow Krateo's table (reference §5.2) but never crash: gzip
is recognised by its magic bytes whatever the header says, octet-streams use the path rule then
sniffing, a missing type is sniffed, and an unsupported type is a clear ``InputError``.

The result keeps two views of the same rows: ``text`` (every column a string, the source's
header and values verbatim, or where Krateo converts JSON, spelled as Krateo does: what
``/metrics`` labels show and CSV serves) and ``rows`` (what ``/rows`` serves losslessly: for
``cost`` the typed FOCUS table the foundation's readers make, decimals, UTC timestamps and all
``x_*`` columns; for ``resource``/``generic`` the text). ``cost`` rows are typed leniently: a
value outside FOCUS's allowed lists is kept and counted, a row with an untypable cell is left
out of both views and reported (``Decoded.quarantined``).
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

from focusflow.errors import InputError
from focusflow.exporter.config import ExporterConfig, MetricType
from focusflow.exporter.focusconfig import focus_config_tables
from focusflow.exporter.krateo_text import go_sprint, quantity_text, rfc3339_nano, rfc3339_utc
from focusflow.focus import resolve_header
from focusflow.focus.conversion import Leniency, convert_lenient
from focusflow.focus.formats import (
    RaggedRowError,
    TextBatches,
    number_ragged_row,
    open_text_batches,
)
from focusflow.sources import Fetched

_BOM = b"\xef\xbb\xbf"
_TEXT_TYPES = ("text/csv", "application/csv", "text/plain", "text/tab-separated-values")
_OCTET_TYPES = ("octet-stream", "application/gzip", "application/x-gzip",
                "application/vnd.apache.parquet", "application/x-parquet")
MAX_GZIP_BYTES = 8 << 30
# The whole snapshot is in memory anyway, so rows are typed in large batches: fewer, longer
# kernel calls (the parser's ~1 MiB batches spend more time in call overhead than in work).
CONVERT_ROWS = 65_536


@dataclass(frozen=True)
class Decoded:
    """A snapshot's rows: ``text`` for labels/CSV, ``rows`` for the lossless endpoint.

    Served leniently: ``leniency`` counts the cells outside FOCUS's allowed values per column
    (kept as they are) and holds the rows left out because a cell could not be typed at all
    (e.g. a non-numeric BilledCost).
    """

    text: pa.Table
    rows: pa.Table
    value_column: str
    leniency: Leniency = field(default_factory=Leniency)


def decode(fetched: Fetched, config: ExporterConfig) -> Decoded:
    """Rows of ``fetched`` for ``config.metric_type``; raises ``InputError`` on bad content."""
    if fetched.table is not None:
        return _from_table(fetched, config)
    body = _gunzip(fetched.body or b"", fetched.name)
    kind = _kind(fetched.content_type, fetched.hints.get("path", ""), body, fetched.name)
    if config.metric_type is MetricType.COST:
        return _cost(body, kind, fetched.name)
    if kind == "json":
        text = (_azure_monitor(body, fetched.name, config)
                if config.metric_type is MetricType.RESOURCE else _generic_json(body, fetched.name))
    else:
        text = _text_table(body, fetched.name)
    index = 3 if config.metric_type is MetricType.RESOURCE else (
        config.generic.value_column_index if config.generic else 0)
    if index >= text.num_columns:
        raise InputError(f"value column index {index} is out of range: the data has "
                         f"{text.num_columns} columns ({', '.join(text.column_names)})",
                         file=fetched.name)
    return Decoded(text, text, text.column_names[index])


def _gunzip(body: bytes, name: str) -> bytes:
    if body[:2] != b"\x1f\x8b":
        return body
    try:
        # Bounded: a gzip bomb must not take the exporter's memory.
        out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, MAX_GZIP_BYTES)
    except zlib.error as exc:
        raise InputError(f"corrupt gzip data ({exc})", file=name) from exc
    return out


def _kind(content_type: str | None, path: str, body: bytes, name: str) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    sniffed = _sniff(body)
    if not kind:
        return sniffed
    if "json" in kind:
        return "json"
    if any(t in kind for t in _TEXT_TYPES):
        return "csv" if sniffed != "parquet" else "parquet"
    if any(t in kind for t in _OCTET_TYPES):
        lowered = path.lower()
        if sniffed == "parquet":
            return "parquet"
        if "json" in lowered and "csv" not in lowered:
            return "json"
        return "csv" if "csv" in lowered else sniffed
    raise InputError(f"unsupported Content-Type {kind!r}: expected text/csv, application/json "
                     "or an octet-stream (CSV, JSON, Parquet, optionally gzip-compressed)",
                     file=name)


def _sniff(body: bytes) -> str:
    if body[:4] == b"PAR1":
        return "parquet"
    head = body[:64].removeprefix(_BOM).lstrip()
    return "json" if head[:1] in (b"[", b"{") else "csv"


def _text_batches(body: bytes, name: str) -> tuple[list[str], list[pa.RecordBatch]]:
    rest = body.removeprefix(_BOM)
    if not rest or rest.isspace():  # stops at the first printable byte; strip() would copy
        raise InputError("the response is empty (no header row)", file=name)
    try:
        text = open_text_batches(io.BytesIO(body), file=name, parallel=True)
        return text.header, list(_coalesced(text))
    except RaggedRowError as exc:
        if exc.row is not None:
            raise
        raise number_ragged_row(io.BytesIO(body), file=name) or exc from None


def _coalesced(text: TextBatches) -> Iterator[pa.RecordBatch]:
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in text.batches:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= CONVERT_ROWS:
            yield pa.concat_batches(pending)
            pending, rows = [], 0
    if pending:
        yield pa.concat_batches(pending)


def _text_table(body: bytes, name: str) -> pa.Table:
    header, batches = _text_batches(body, name)
    schema = pa.schema([pa.field(h, pa.string()) for h in header])
    return pa.Table.from_batches(batches, schema=schema)


def _cost(body: bytes, kind: str, name: str) -> Decoded:
    if kind == "json" and body.removeprefix(_BOM).lstrip()[:1] != b"[":
        # Not a plain FOCUS JSON array: a FocusConfig list (§2.4), Krateo's text as labels.
        data = _load_json(body, name)
        tables = focus_config_tables(data, name)
        if tables is None:
            raise InputError("expected a JSON array of FOCUS rows or a FocusConfig list "
                             '({"items": [{"spec": {"focusSpec": {...}}}]}), found a JSON '
                             f"{type(data).__name__}", file=name)
        labels, lossless = tables
        return _typed_cost(labels.column_names, labels.to_batches(), lossless.to_batches(),
                           name)
    header, batches = _text_batches(body, name)
    return _typed_cost(header, batches, batches, name)


def _typed_cost(header: list[str], texts: list[pa.RecordBatch],
                sources: list[pa.RecordBatch], name: str) -> Decoded:
    """Typed rows from ``sources``, label text from ``texts`` (the same rows, aligned)."""
    layout = resolve_header(header, file=name, require_mandatory=False)
    if not layout.has("BilledCost"):
        raise InputError("metricType cost needs a BilledCost column", file=name, row=0)
    # Lenient (services serve what is there): values outside FOCUS's allowed lists are kept
    # and counted; a row with a cell that cannot be typed is set aside, text and typed alike.
    typed, kept_texts, first = [], [], 1
    leniency = Leniency()
    for text, source in zip(texts, sources, strict=True):
        lenient = convert_lenient(source, layout, first_row=first)
        typed.append(lenient.batch)
        kept_texts.append(text if lenient.kept is None else text.take(lenient.kept))
        leniency.add(lenient.leniency)
        first += source.num_rows
    text_schema = pa.schema([pa.field(h, pa.string()) for h in header])
    text_table = pa.Table.from_batches(kept_texts, schema=text_schema)
    rows = pa.Table.from_batches(typed, schema=layout.schema)
    value = header[layout.names.index("BilledCost")]
    return Decoded(text_table, rows, value, leniency)


def _load_json(body: bytes, name: str) -> Any:
    try:
        return orjson.loads(body.removeprefix(_BOM))
    except orjson.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc})", file=name) from exc


def _azure_monitor(body: bytes, name: str, config: ExporterConfig) -> pa.Table:
    """Azure Monitor metrics JSON -> ResourceId, metricName, timestamp, average, unit."""
    try:  # decimals as written: Krateo spells the average from its JSON literal ("12.0")
        data = json.loads(body.removeprefix(_BOM), parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"invalid JSON ({exc})", file=name) from exc
    if not isinstance(data, dict) or not isinstance(data.get("value"), list):
        raise InputError('expected an Azure Monitor metrics response ({"value": [...]})',
                         file=name)
    resource_id = config.additional_variables.get("ResourceId", "")
    columns: dict[str, list[str | None]] = {k: [] for k in
                                            ("ResourceId", "metricName", "timestamp",
                                             "average", "unit")}
    for metric in data["value"]:
        if not isinstance(metric, dict):
            continue
        metric_name = str((metric.get("name") or {}).get("value") or "")
        for series in metric.get("timeseries") or []:
            for point in (series or {}).get("data") or []:
                average = point.get("average")
                columns["ResourceId"].append(resource_id)
                columns["metricName"].append(metric_name)
                columns["timestamp"].append(rfc3339_utc(str(point.get("timeStamp") or "")))
                # R6: a missing average is NULL, not Krateo's 0 (the row gets no sample).
                columns["average"].append(quantity_text(average))
                columns["unit"].append(str(metric.get("unit") or ""))
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})


def _generic_json(body: bytes, name: str) -> pa.Table:
    data = _load_json(body, name)
    if isinstance(data, dict) and data.get("status") == "success" and \
            isinstance(data.get("data"), dict):
        return _prometheus_api(data["data"], name)
    rows = data if isinstance(data, list) else _first_object_array(data)
    if rows is None or not all(isinstance(r, dict) for r in rows):
        raise InputError("expected a JSON array of objects, an object holding one, or a "
                         "Prometheus API response", file=name)
    if not rows:
        raise InputError("the JSON array holds no rows", file=name)
    keys = sorted({str(k) for row in rows for k in row})
    return pa.table({k: pa.array([go_sprint(r.get(k)) for r in rows], pa.string())
                     for k in keys})


def _first_object_array(data: Any) -> list[Any] | None:
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                return value
    return None


def _prometheus_api(data: dict[str, Any], name: str) -> pa.Table:
    """Prometheus HTTP API vector/matrix -> one row per point (Krateo's header rules)."""
    from focusflow.exporter.names import sanitize_labels  # noqa: PLC0415 - cycle-free helper

    result = data.get("result") or []
    if data.get("resultType") not in ("vector", "matrix") or not isinstance(result, list):
        raise InputError("Prometheus API response: expected resultType vector or matrix",
                         file=name)
    raw = sorted({str(k) for item in result for k in (item.get("metric") or {})})
    header = sanitize_labels([("metric_name" if r == "__name__" else r) for r in raw])
    columns: list[list[str | None]] = [[] for _ in range(len(raw) + 2)]
    for item in result:
        labels = item.get("metric") or {}
        points = item.get("values") or ([item["value"]] if "value" in item else [])
        for timestamp, value in points:
            for i, key in enumerate(raw):
                columns[i].append(labels.get(key, ""))
            columns[-2].append(go_sprint(value))
            columns[-1].append(rfc3339_nano(float(timestamp)))
    names = [*header, "value", "timestamp"]
    return pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, columns, strict=True)})


def _from_table(fetched: Fetched, config: ExporterConfig) -> Decoded:
    table = fetched.table
    assert table is not None  # noqa: S101 - the caller checked
    text = pa.table([c.cast(pa.string()) for c in table.columns], names=table.column_names)
    if config.metric_type is MetricType.COST:
        if "BilledCost" not in table.column_names:
            raise InputError("metricType cost needs a BilledCost column", file=fetched.name)
        return Decoded(text, table, "BilledCost")
    index = 3 if config.metric_type is MetricType.RESOURCE else (
        config.generic.value_column_index if config.generic else 0)
    if index >= table.num_columns:
        raise InputError(f"value column index {index} is out of range", file=fetched.name)
    return Decoded(text, text, text.column_names[index])


def gzip_bytes(data: bytes) -> bytes:
    """gzip-compress (used to serve ``Accept-Encoding: gzip``)."""
    return gzip.compress(data, compresslevel=1)
