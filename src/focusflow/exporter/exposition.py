"""Render rows as Prometheus text exposition (format 0.0.4) with vectorised Arrow string kernels.

Layer: ``exporter``. One Arrow kernel call (``binary_join_element_wise``) builds every line
at once from the label columns; the exposition is served as views on the resulting string
array's data buffer, so no Python object is made per row and nothing is joined or copied
afterwards. Escaping is applied only to columns whose bytes hold a quote, backslash or newline,
and duplicate label sets are found with DuckDB's vectorised row ``hash``. ``bench/exporter.py``
compares this with the one-gauge-per-row ``prometheus_client`` exporter.

Krateo's series shapes (reference §5.3): ``cost`` → ``billed_cost`` with one label per non-``x_``
column (``Tags`` rewritten to Krateo's ``k: v;k2: v2``); ``resource`` → one family per
``metricName``; ``generic`` → ``generic.metricName`` with every column as a label. Values that
do not parse as numbers are skipped (counted). Exact duplicate series, which Prometheus would
reject, get a ``duplicate="2"``, ``"3"``… label so every row stays one sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from focusflow.exporter.config import ExporterConfig, LabelNames, MetricType
from focusflow.exporter.decode import Decoded
from focusflow.exporter.names import sanitize_labels, sanitize_metric

_NUMBER = r"^\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|[Nn]a[Nn]|[Ii]nf(inity)?)\s*$"
DUPLICATE_LABEL = "duplicate"


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
    chunks: list[bytes | memoryview] = []
    series = 0
    unique = pc.unique(metric_names).to_pylist()
    for name in unique:
        part, part_values = text, values
        if len(unique) > 1:  # resource mode: one family per metricName
            mask = pc.equal(metric_names, name)
            part, part_values = text.filter(mask), values.filter(mask)
        metric = sanitize_metric(name)
        chunks.append(_header(metric, help_text))
        chunks.extend(_lines(metric, part, label_columns, part_values,
                             snake_case=config.label_names is LabelNames.SNAKE))
        series += part.num_rows
    return Rendered(chunks, series, skipped)


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
    # Single-threaded: the sum then runs in row order, so a snapshot always renders the same
    # float (threaded hash aggregation adds in a varying order and changes the last digit).
    grouped = frame.group_by(["__metric", *keys], use_threads=False).aggregate(
        [("__value", "sum")])
    grouped = grouped.sort_by([("__metric", "ascending"), *((k, "ascending") for k in keys)])
    return _render_grouped(grouped, keys, help_text, skipped,
                           snake_case=config.label_names is LabelNames.SNAKE)


def _render_grouped(grouped: pa.Table, keys: list[str], help_text: str,
                    skipped: int, *, snake_case: bool) -> Rendered:
    chunks: list[bytes | memoryview] = []
    metric_names = grouped.column("__metric")
    for name in pc.unique(metric_names).to_pylist():
        part = grouped.filter(pc.equal(metric_names, name))
        metric = sanitize_metric(name)
        chunks.append(_header(metric, f"{help_text} (summed by {', '.join(keys)})"))
        chunks.extend(_lines(metric, part.select(keys), keys, part.column("__value_sum"),
                             snake_case=snake_case))
    return Rendered(chunks, grouped.num_rows, skipped)


def _header(metric: str, help_text: str) -> bytes:
    return f"# HELP {metric} {help_text}\n# TYPE {metric} gauge\n".encode()


def _escape(column: pa.ChunkedArray) -> pa.ChunkedArray:
    # A memchr-speed scan of the raw string bytes decides whether escaping is needed at all:
    # most FOCUS columns never hold a quote, backslash or newline.
    for chunk in column.chunks:
        data = chunk.buffers()[2]
        raw = data.to_pybytes() if data is not None else b""
        if b'"' in raw or b"\\" in raw or b"\n" in raw:
            break
    else:
        return column
    column = pc.replace_substring(column, "\\", "\\\\")
    column = pc.replace_substring(column, '"', '\\"')
    return pc.replace_substring(column, "\n", "\\n")


def _krateo_tags(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Krateo's Tags label rewrite: drop ``{}"``, ``=``→``:``, ``,``→``;``.

    Done on the column's distinct values and gathered back: tag sets repeat across rows.
    """
    encoded = pc.dictionary_encode(column).combine_chunks()
    values = encoded.dictionary
    for old, new in (("{", ""), ("}", ""), ('"', ""), ("=", ":"), (",", ";")):
        values = pc.replace_substring(values, old, new)
    return pa.chunked_array([pc.take(values, encoded.indices)])


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _lines(
    metric: str, text: pa.Table, label_columns: Sequence[str], values: pa.ChunkedArray,
    *, snake_case: bool,
) -> list[memoryview]:
    """Every sample line of one family, as views on Arrow buffers (no per-row objects)."""
    if text.num_rows == 0:
        return []
    names = sanitize_labels(label_columns, reserved=(DUPLICATE_LABEL,), snake_case=snake_case)
    fragments: list[pa.ChunkedArray | pa.Array | pa.Scalar] = []
    for index, (column, label) in enumerate(zip(label_columns, names, strict=True)):
        data = text.column(column).cast(pa.string())
        if data.null_count:
            data = pc.fill_null(data, "")
        if "Tags" in column and metric == "billed_cost":
            data = _krateo_tags(data)
        lead = f"{metric}{{{label}=\"" if index == 0 else f'",{label}="'
        fragments += [_s(lead), _escape(data.cast(pa.large_string()))]
    fragments.append(_s('"') if fragments else _s(f"{metric}{{"))
    duplicate = _duplicate_fragment(_row_hash(text.select(list(label_columns))))
    if duplicate is not None:
        fragments.append(duplicate)
    numbers = pc.cast(values, pa.large_string())
    lines = pc.binary_join_element_wise(*fragments, _s("} "), numbers, _s("\n"), _s(""))
    return _buffer_views(lines)


def _row_hash(labels: pa.Table) -> pa.Array:
    """A 64-bit hash of each row's label values (DuckDB's vectorised ``hash``)."""
    if labels.num_columns == 0:
        return pa.array([0] * labels.num_rows, pa.uint64())
    renamed = labels.rename_columns([f"c{i}" for i in range(labels.num_columns)])
    with duckdb.connect() as con:
        con.register("labels", renamed)
        columns = ", ".join(renamed.column_names)
        hashed = con.sql(f"SELECT hash({columns}) AS h FROM labels").to_arrow_table()
    return hashed.column("h").combine_chunks()


def _duplicate_fragment(row_hash: pa.Array) -> pa.Array | None:
    """``,duplicate="n"`` for the 2nd, 3rd… row of an identical label set, else ``""``.

    Rows are ranked within their group of equal hashes by sorting (hash, position) and
    subtracting each group's first sorted index. A hash collision only adds a label to a
    row that was already distinct, so series stay unique either way.
    """
    count = len(row_hash)
    if len(pc.unique(row_hash)) == count:
        return None
    positions = pa.array(range(count), pa.int64())
    ordered = pa.table({"h": row_hash, "pos": positions}).sort_by(
        [("h", "ascending"), ("pos", "ascending")])
    hashes = ordered.column("h").combine_chunks()
    starts = pa.concat_arrays([pa.array([True]), pc.not_equal(hashes[1:], hashes[:-1])])
    first = pc.fill_null_forward(pc.if_else(starts, positions, pa.scalar(None, pa.int64())))
    rank_sorted = pc.add(pc.subtract(positions, first), 1)
    rank = pc.take(rank_sorted, pc.sort_indices(ordered.column("pos")))
    label = pc.binary_join_element_wise(_s(f',{DUPLICATE_LABEL}="'),
                                        pc.cast(rank, pa.large_string()), _s('"'), _s(""))
    return pc.if_else(pc.greater(rank, 1), label, _s(""))


def _buffer_views(lines: pa.Array | pa.ChunkedArray) -> list[memoryview]:
    """Every line's bytes back to back: views on the string data buffers, nothing copied."""
    chunks = lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]
    out = []
    for chunk in chunks:
        if len(chunk) == 0 or chunk.buffers()[2] is None:
            continue
        bounds = pa.Array.from_buffers(pa.int64(), len(chunk) + 1, [None, chunk.buffers()[1]],
                                       offset=chunk.offset)
        start, end = bounds[0].as_py(), bounds[-1].as_py()
        out.append(memoryview(chunk.buffers()[2])[start:end])
    return out
