"""Render rows as Prometheus text exposition (format 0.0.4) with vectorised Arrow string kernels.

Layer: ``exporter``. One Arrow kernel call per label column builds every line at once
(``binary_join_element_wise``); the exposition text is the resulting string array's data
buffer, so no Python object is made per row. This is what keeps 200k-row reports well under a
second (``bench/exporter.py``) where ``prometheus_client`` needs one object per sample.

Krateo's series shapes (reference §5.3): ``cost`` → ``billed_cost`` with one label per non-``x_``
column (``Tags`` rewritten to Krateo's ``k: v;k2: v2``); ``resource`` → one family per
``metricName``; ``generic`` → ``generic.metricName`` with every column as a label. Values that
do not parse as numbers are skipped (counted). Exact duplicate series, which Prometheus would
reject, get a ``duplicate="2"``, ``"3"``… label so every row stays one sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from focusflow.exporter.config import ExporterConfig, LabelNames, MetricType
from focusflow.exporter.decode import Decoded
from focusflow.exporter.names import sanitize_labels, sanitize_metric

_NUMBER = r"^\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|[Nn]a[Nn]|[Ii]nf(inity)?)\s*$"
DUPLICATE_LABEL = "duplicate"


@dataclass(frozen=True)
class Rendered:
    text: bytes
    series: int
    skipped: int


def render(decoded: Decoded, config: ExporterConfig) -> Rendered:
    """The exposition of a snapshot's rows."""
    text = decoded.text
    if config.metric_type is MetricType.COST:
        values = _cost_values(decoded)
        labels = [c for c in text.column_names if not c.startswith("x_")]
        return _families(text, labels, values, _constant("billed_cost", text.num_rows),
                         config, help_text="Billed cost of a FOCUS charge row")
    values = text.column(decoded.value_column)
    if config.metric_type is MetricType.RESOURCE:
        names = pc.replace_substring(pc.utf8_lower(text.column("metricName").fill_null("")),
                                     " ", "_")
        return _families(text, list(text.column_names), values, names, config,
                         help_text="Azure Monitor metric")
    assert config.generic is not None  # noqa: S101 - enforced by the config model
    return _families(text, list(text.column_names), values,
                     _constant(config.generic.metric_name, text.num_rows), config,
                     help_text="Generic metric")


def _constant(value: str, length: int) -> pa.ChunkedArray:
    return pa.chunked_array([pa.repeat(pa.scalar(value, pa.string()), length)],
                            type=pa.string())


def _cost_values(decoded: Decoded) -> pa.ChunkedArray:
    typed = decoded.rows.column(decoded.rows.column_names[
        decoded.text.column_names.index(decoded.value_column)])
    return typed.cast(pa.float64())


def _numeric(values: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """(float values, mask of usable rows) for a string or numeric column."""
    if pa.types.is_floating(values.type):
        return values, pc.is_valid(values)
    ok = pc.fill_null(pc.match_substring_regex(values, _NUMBER), False)
    cleaned = pc.if_else(ok, pc.utf8_trim_whitespace(values), pa.scalar("0"))
    return pc.cast(cleaned, pa.float64()), ok


def _families(
    text: pa.Table, label_columns: Sequence[str], raw_values: pa.ChunkedArray,
    metric_names: pa.ChunkedArray, config: ExporterConfig, *, help_text: str,
) -> Rendered:
    values, ok = _numeric(raw_values)
    skipped = len(ok) - (pc.sum(ok).as_py() or 0)
    text = text.filter(ok)
    values, metric_names = values.filter(ok), metric_names.filter(ok)
    if config.aggregate_by:
        return _aggregated(text, values, metric_names, config, help_text=help_text,
                           skipped=skipped)
    chunks: list[bytes] = []
    series = 0
    unique = pc.unique(metric_names).to_pylist()
    for name in unique:
        part, part_values = text, values
        if len(unique) > 1:  # resource mode: one family per metricName
            mask = pc.equal(metric_names, name)
            part, part_values = text.filter(mask), values.filter(mask)
        metric = sanitize_metric(name)
        chunks.append(_header(metric, help_text))
        chunks.append(_lines(metric, part, label_columns, part_values,
                             snake_case=config.label_names is LabelNames.SNAKE))
        series += part.num_rows
    return Rendered(b"".join(chunks), series, skipped)


def _aggregated(
    text: pa.Table, values: pa.ChunkedArray, metric_names: pa.ChunkedArray,
    config: ExporterConfig, *, help_text: str, skipped: int,
) -> Rendered:
    from focusflow.errors import ConfigError  # noqa: PLC0415

    missing = [c for c in config.aggregate_by if c not in text.column_names]
    if missing:
        raise ConfigError(f"aggregateBy: column(s) {', '.join(missing)} not in the data "
                          f"(columns: {', '.join(text.column_names)})")
    keys = list(config.aggregate_by)
    frame = pa.table({**{k: text.column(k).fill_null("") for k in keys},
                      "__metric": metric_names, "__value": values})
    grouped = frame.group_by(["__metric", *keys]).aggregate([("__value", "sum")])
    grouped = grouped.sort_by([("__metric", "ascending"), *((k, "ascending") for k in keys)])
    return _render_grouped(grouped, keys, help_text, skipped,
                           snake_case=config.label_names is LabelNames.SNAKE)


def _render_grouped(grouped: pa.Table, keys: list[str], help_text: str,
                    skipped: int, *, snake_case: bool) -> Rendered:
    chunks: list[bytes] = []
    metric_names = grouped.column("__metric")
    for name in pc.unique(metric_names).to_pylist():
        part = grouped.filter(pc.equal(metric_names, name))
        metric = sanitize_metric(name)
        chunks.append(_header(metric, f"{help_text} (summed by {', '.join(keys)})"))
        chunks.append(_lines(metric, part.select(keys), keys, part.column("__value_sum"),
                             snake_case=snake_case))
    return Rendered(b"".join(chunks), grouped.num_rows, skipped)


def _header(metric: str, help_text: str) -> bytes:
    return f"# HELP {metric} {help_text}\n# TYPE {metric} gauge\n".encode()


def _escape(column: pa.ChunkedArray) -> pa.ChunkedArray:
    column = pc.fill_null(column.cast(pa.large_string()), "")
    # Only columns that hold a character needing escape pay for the three replaces.
    if pc.any(pc.match_substring_regex(column, r'[\\"\n]')).as_py():
        column = pc.replace_substring(column, "\\", "\\\\")
        column = pc.replace_substring(column, '"', '\\"')
        column = pc.replace_substring(column, "\n", "\\n")
    return column


def _krateo_tags(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Krateo's Tags label rewrite: drop ``{}"``, ``=``→``:``, ``,``→``;``."""
    column = pc.replace_substring_regex(column, r'[{}"]', "")
    column = pc.replace_substring(column, "=", ":")
    return pc.replace_substring(column, ",", ";")


def _lines(
    metric: str, text: pa.Table, label_columns: Sequence[str], values: pa.ChunkedArray,
    *, snake_case: bool,
) -> bytes:
    if text.num_rows == 0:
        return b""
    names = sanitize_labels(label_columns, reserved=(DUPLICATE_LABEL,), snake_case=snake_case)
    parts: list[pa.ChunkedArray | pa.Scalar] = []
    for index, (column, label) in enumerate(zip(label_columns, names, strict=True)):
        data = text.column(column)
        if "Tags" in column and metric == "billed_cost":
            data = _krateo_tags(pc.fill_null(data.cast(pa.string()), ""))
        lead = f"{metric}{{" if index == 0 else '",'
        parts.extend((_s(f'{lead}{label}="'), _escape(data)))
    if not parts:  # no label columns: a bare metric name per row
        parts.append(_s(""))
    series = pc.binary_join_element_wise(*parts, _s('"}' if len(parts) > 1 else metric), _s(""))
    series = _dedupe(series)
    numbers = pc.cast(values, pa.large_string())
    lines = pc.binary_join_element_wise(series, _s(" "), numbers, _s("\n"), _s(""))
    return _buffer_bytes(lines)


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _dedupe(series: pa.ChunkedArray) -> pa.ChunkedArray:
    """Append ``duplicate="n"`` to the 2nd, 3rd… occurrence of an identical series."""
    counts = pc.value_counts(series)
    repeated = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
    if len(repeated) == 0:
        return series
    flat = series.combine_chunks()
    positions = pc.indices_nonzero(pc.is_in(flat, value_set=repeated)).to_pylist()
    seen: dict[str, int] = {}
    replaced: list[str] = []
    for position in positions:
        value = flat[position].as_py()
        seen[value] = seen.get(value, 0) + 1
        if seen[value] == 1:
            replaced.append(value)
        else:
            replaced.append(f'{value[:-1]},{DUPLICATE_LABEL}="{seen[value]}"}}')
    mask = pc.is_in(pa.array(range(len(flat))), value_set=pa.array(positions))
    return pa.chunked_array([pc.replace_with_mask(flat, mask,
                                                  pa.array(replaced, pa.large_string()))])


def _buffer_bytes(lines: pa.ChunkedArray) -> bytes:
    """Every line's bytes back to back: the string data buffers, no per-row objects."""
    out = []
    for chunk in lines.chunks:
        if len(chunk) == 0:
            continue
        offsets = chunk.buffers()[1]
        data = chunk.buffers()[2]
        start_end = pa.Array.from_buffers(pa.int64(), len(chunk) + 1, [None, offsets],
                                          offset=chunk.offset)
        start, end = start_end[0].as_py(), start_end[-1].as_py()
        out.append(data.slice(start, end - start).to_pybytes() if data is not None else b"")
    return b"".join(out)
