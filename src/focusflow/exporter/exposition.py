"""Render rows as Prometheus text exposition (format 0.0.4) with vectorised Arrow string kernels.

Layer: ``exporter``. Rows are rendered a slice at a time (``render_parts``; ``render`` keeps
every part). Per slice, one Arrow kernel call (``binary_join_element_wise``) builds every line
from the literal text and the varying label columns; columns constant within the slice are
folded into the literal. The parts are views on the resulting string array's data buffer, so no
Python object is made per row and nothing is joined. Escaping runs only for the characters a
column holds, on its distinct values when they repeat; duplicate label sets are found by
``duplicates``. The output is pinned byte for byte by ``test_exposition_golden.py``;
``bench/exporter.py`` compares the speed with a one-gauge-per-row ``prometheus_client`` exporter.

Krateo's series shapes (reference §5.3): ``cost`` → ``billed_cost`` with one label per non-``x_``
column (``Tags`` rewritten to Krateo's ``k: v;k2: v2``); ``resource`` → one family per
``metricName``; ``generic`` → ``generic.metricName`` with every column as a label. Label names
keep the header casing (Krateo's contract) unless ``labelNames: snake``; with Krateo's names
every column whose name contains ``Tags`` gets the Tags rewrite, in every mode, as in Krateo.
Values that do not parse as numbers are skipped (counted). Exact duplicate series, which
Prometheus would reject, get a ``duplicate="2"``, ``"3"``… label so every row stays one sample.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from focusflow.exporter.config import ExporterConfig, LabelNames, MetricType
from focusflow.exporter.decode import Decoded
from focusflow.exporter.duplicates import duplicate_ranks
from focusflow.exporter.names import sanitize_labels, sanitize_metric

_NUMBER = r"^\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|[Nn]a[Nn]|[Ii]nf(inity)?)\s*$"
DUPLICATE_LABEL = "duplicate"
STRING_LIMIT = 2**31  # bytes an Arrow string array (int32 offsets) can hold
SLICE_BYTES = 64 << 20  # rows rendered at a time: about this much exposition text


@dataclass(frozen=True)
class Rendered:
    """An exposition as byte views on Arrow buffers (served as is, never joined)."""

    parts: list[bytes | memoryview]
    series: int
    skipped: int

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)

    @property
    def text(self) -> bytes:
        """The whole exposition as one ``bytes`` (copies: for tests and small outputs)."""
        return b"".join(self.parts)


@dataclass(frozen=True)
class Exposition:
    """An exposition being rendered: counts known up front, text made slice by slice.

    ``parts`` renders a slice of rows when the consumer asks for it, so a consumer that
    compresses or writes each part and drops it never holds the whole text.
    """

    parts: Iterator[bytes | memoryview]
    series: int
    skipped: int


def render(decoded: Decoded, config: ExporterConfig) -> Rendered:
    """The exposition of a snapshot's rows, all of it."""
    exposition = render_parts(decoded, config)
    return Rendered(list(exposition.parts), exposition.series, exposition.skipped)


def render_parts(decoded: Decoded, config: ExporterConfig,
                 slice_bytes: int = SLICE_BYTES) -> Exposition:
    """The exposition of a snapshot's rows, rendered as ``parts`` is consumed.

    Configuration errors (an ``aggregateBy`` column missing) are raised here, not mid-way.
    """
    text = decoded.text
    if config.metric_type is MetricType.COST:
        values = _cost_values(decoded)
        labels = [c for c in text.column_names if not c.startswith("x_")]
        return _families(text, labels, values, _constant("billed_cost", text.num_rows),
                         config, slice_bytes=slice_bytes,
                         help_text="Billed cost of a FOCUS charge row")
    values = text.column(decoded.value_column)
    if config.metric_type is MetricType.RESOURCE:
        names = pc.replace_substring(pc.utf8_lower(text.column("metricName").fill_null("")),
                                     " ", "_")
        return _families(text, list(text.column_names), values, names, config,
                         slice_bytes=slice_bytes, help_text="Azure Monitor metric")
    assert config.generic is not None  # noqa: S101 - enforced by the config model
    return _families(text, list(text.column_names), values,
                     _constant(config.generic.metric_name, text.num_rows), config,
                     slice_bytes=slice_bytes, help_text="Generic metric")


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
    metric_names: pa.ChunkedArray, config: ExporterConfig, *, slice_bytes: int,
    help_text: str,
) -> Exposition:
    values, ok = _numeric(raw_values)
    skipped = len(ok) - (pc.sum(ok).as_py() or 0)
    if skipped:  # a filter copies every column: only when some row has no number
        text = text.filter(ok)
        values, metric_names = values.filter(ok), metric_names.filter(ok)
    if config.aggregate_by:
        return _aggregated(text, values, metric_names, config, help_text=help_text,
                           skipped=skipped, slice_bytes=slice_bytes)
    snake_case = config.label_names is LabelNames.SNAKE

    def parts() -> Iterator[bytes | memoryview]:
        unique = pc.unique(metric_names).to_pylist()
        for name in unique:
            part, part_values = text, values
            if len(unique) > 1:  # resource mode: one family per metricName
                mask = pc.equal(metric_names, name)
                part, part_values = text.filter(mask), values.filter(mask)
            metric = sanitize_metric(name)
            yield _header(metric, help_text)
            yield from _family_lines(metric, part, label_columns, part_values,
                                     snake_case=snake_case, slice_bytes=slice_bytes)

    return Exposition(parts(), text.num_rows, skipped)


def _aggregated(
    text: pa.Table, values: pa.ChunkedArray, metric_names: pa.ChunkedArray,
    config: ExporterConfig, *, help_text: str, skipped: int, slice_bytes: int,
) -> Exposition:
    from focusflow.errors import ConfigError  # noqa: PLC0415

    missing = [c for c in config.aggregate_by if c not in text.column_names]
    if missing:
        raise ConfigError(f"aggregateBy: column(s) {', '.join(missing)} not in the data "
                          f"(columns: {', '.join(text.column_names)})")
    keys = list(config.aggregate_by)
    frame = pa.table({**{k: text.column(k).fill_null("") for k in keys},
                      "__metric": metric_names, "__value": values})
    # Single-threaded: the sum then runs in row order, so a snapshot always renders the same
    # float (threaded hash aggregation adds in a varying order and changes the last digit).
    grouped = frame.group_by(["__metric", *keys], use_threads=False).aggregate(
        [("__value", "sum")])
    grouped = grouped.sort_by([("__metric", "ascending"), *((k, "ascending") for k in keys)])
    snake_case = config.label_names is LabelNames.SNAKE

    def parts() -> Iterator[bytes | memoryview]:
        metric_names = grouped.column("__metric")
        for name in pc.unique(metric_names).to_pylist():
            part = grouped.filter(pc.equal(metric_names, name))
            metric = sanitize_metric(name)
            yield _header(metric, f"{help_text} (summed by {', '.join(keys)})")
            yield from _family_lines(metric, part.select(keys), keys,
                                     part.column("__value_sum"), snake_case=snake_case,
                                     slice_bytes=slice_bytes)

    return Exposition(parts(), grouped.num_rows, skipped)


def _header(metric: str, help_text: str) -> bytes:
    return f"# HELP {metric} {help_text}\n# TYPE {metric} gauge\n".encode()


_ESCAPES = ((b"\\", "\\", "\\\\"), (b'"', '"', '\\"'), (b"\n", "\n", "\\n"))


def _escape(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Prometheus label escaping, one ``replace_substring`` pass per character present.

    A memchr-speed scan of the raw string bytes tells which of backslash, quote and newline
    occur at all: most FOCUS columns hold none, and skipping an absent one changes nothing.
    """
    raw = [_used_bytes(chunk).to_pybytes() for chunk in column.chunks]
    present = [(old, new) for needle, old, new in _ESCAPES if any(needle in r for r in raw)]
    return _replace(column, present) if present else column


def _replace(column: pa.ChunkedArray, pairs: Sequence[tuple[str, str]]) -> pa.ChunkedArray:
    """``replace_substring`` for each (old, new) pair in turn, on the distinct values if they
    repeat (JSON details and tag sets do, across a report), gathered back to the rows."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    distinct = encoded.dictionary
    direct = 2 * len(distinct) > len(column)
    target = column if direct else distinct
    for old, new in pairs:
        target = pc.replace_substring(target, old, new)
    return target if direct else pa.chunked_array([pc.take(target, encoded.indices)])


def _escape_text(value: str) -> str:
    for _, old, new in _ESCAPES:
        value = value.replace(old, new)
    return value


def _krateo_tags(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Krateo's Tags label rewrite: drop ``{}"``, ``=``→``:``, ``,``→``;``."""
    return _replace(column, _TAG_REWRITE)


_TAG_REWRITE = (("{", ""), ("}", ""), ('"', ""), ("=", ":"), (",", ";"))


def _krateo_tags_text(value: str) -> str:
    for old, new in _TAG_REWRITE:
        value = value.replace(old, new)
    return value


def _only_value(column: pa.ChunkedArray) -> str | None:
    """The column's only value if every row holds the same string (NULL counts as ``""``).

    Such columns (provider, currency, billing period, empty optional columns) are folded into
    the literal text between label values, so the join kernel gets fewer inputs per row.
    The lengths are compared first (offsets only); only then are the bytes compared.
    """
    rows = len(column)
    if column.null_count == rows:
        return ""
    if column.null_count:
        return None
    first = column[0].as_py()
    assert isinstance(first, str)  # noqa: S101 - a string column
    if column[rows - 1].as_py() != first:  # most varying columns stop here
        return None
    width = len(first.encode())
    if pc.sum(pc.binary_length(column)).as_py() != width * rows:
        return None
    if width == 0 or pc.all(pc.equal(column, first)).as_py():
        return first
    return None


def _family_lines(
    metric: str, text: pa.Table, label_columns: Sequence[str], values: pa.ChunkedArray, *,
    snake_case: bool, slice_bytes: int = SLICE_BYTES,
) -> Iterator[memoryview]:
    """Every sample line of one family, a slice of rows at a time (about ``slice_bytes``).

    Duplicate label sets are found over the whole family first; everything else is per slice
    (a column constant within a slice is folded there: the bytes are the same either way).
    """
    if text.num_rows == 0:
        return
    names = sanitize_labels(label_columns, reserved=(DUPLICATE_LABEL,), snake_case=snake_case)
    ranks = duplicate_ranks(text.select(list(label_columns)))
    per_row = max(1, _estimate(metric, text, label_columns, names) // text.num_rows)
    step = max(1, slice_bytes // per_row)
    # Krateo rewrites every column named like Tags, in every mode; snake keeps it to cost.
    tags_rewrite = metric == "billed_cost" or not snake_case
    for start in range(0, text.num_rows, step):
        yield from _lines(metric, text.slice(start, step), label_columns, names,
                          tags_rewrite=tags_rewrite, values=values.slice(start, step),
                          ranks=None if ranks is None else ranks.slice(start, step))


def _lines(
    metric: str, text: pa.Table, label_columns: Sequence[str], names: Sequence[str], *,
    tags_rewrite: bool, values: pa.ChunkedArray, ranks: pa.Array | None,
) -> list[memoryview]:
    """The sample lines of a slice of rows, as views on Arrow buffers (no per-row objects).

    One ``binary_join_element_wise`` call joins, row by row, the literal text (metric name,
    label names, constant label values) with the varying label values and the sample value.
    """
    # int32 offsets unless the slice could pass 2 GiB (string columns are 32-bit here).
    big = _estimate(metric, text, label_columns, names) >= STRING_LIMIT
    kind = pa.large_string() if big else pa.string()
    fragments: list[pa.ChunkedArray | pa.Array | pa.Scalar] = []
    literal = f"{metric}{{"
    for index, (column, label) in enumerate(zip(label_columns, names, strict=True)):
        literal += f'{label}="' if index == 0 else f'",{label}="'
        data = text.column(column)
        if data.type != pa.string():
            data = data.cast(pa.string())
        tags = tags_rewrite and "Tags" in column
        constant = _only_value(data)
        if constant is not None:
            literal += _escape_text(_krateo_tags_text(constant) if tags else constant)
            continue
        if data.null_count:
            data = pc.fill_null(data, "")
        if tags:
            data = _krateo_tags(data)
        data = _escape(data)
        fragments += [pa.scalar(literal, kind), data if kind == pa.string() else data.cast(kind)]
        literal = ""
    if label_columns:
        literal += '"'
    if ranks is not None and pc.max(ranks).as_py() > 1:
        fragments += [pa.scalar(literal, kind), _duplicate_fragment(ranks).cast(kind)]
        literal = ""
    numbers = pc.cast(values, kind)
    lines = pc.binary_join_element_wise(*fragments, pa.scalar(literal + "} ", kind), numbers,
                                        pa.scalar("\n", kind), pa.scalar("", kind))
    return _buffer_views(lines)


def _estimate(metric: str, text: pa.Table, label_columns: Sequence[str],
              names: Sequence[str]) -> int:
    """An upper bound of the exposition's bytes (escaping at most doubles a value)."""
    values = sum(int(text.column(c).get_total_buffer_size()) for c in label_columns)
    literal = len(metric) + sum(len(name) + 4 for name in names) + 64  # value, duplicate
    return 2 * values + int(text.num_rows) * literal


def _duplicate_fragment(rank: pa.Array) -> pa.Array:
    """``,duplicate="n"`` for the 2nd, 3rd… row of an identical label set, else ``""``."""
    label = pc.binary_join_element_wise(f',{DUPLICATE_LABEL}="', pc.cast(rank, pa.string()),
                                        '"', "")
    return pc.if_else(pc.greater(rank, 1), label, "")


def _buffer_views(lines: pa.Array | pa.ChunkedArray) -> list[memoryview]:
    """Every line's bytes back to back: views on the string data buffers, nothing copied."""
    chunks = lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]
    return [memoryview(used) for used in map(_used_bytes, chunks) if used.size]


def _used_bytes(chunk: pa.Array) -> pa.Buffer:
    """The part of a string array's data buffer its rows use (a slice may use a fraction)."""
    data = chunk.buffers()[2]
    if len(chunk) == 0 or data is None:
        return pa.py_buffer(b"")
    width = pa.int64() if pa.types.is_large_string(chunk.type) else pa.int32()
    bounds = pa.Array.from_buffers(width, len(chunk) + 1, [None, chunk.buffers()[1]],
                                   offset=chunk.offset)
    start, end = bounds[0].as_py(), bounds[-1].as_py()
    return data.slice(start, end - start)
