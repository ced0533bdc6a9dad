"""Find rows of a family whose label sets are exactly equal (Prometheus would reject them).

Layer: ``exporter``. Used by ``exposition`` to add ``duplicate="2"``, ``"3"``… so every row
stays one sample. Hashing every label of every row is the expensive way; here columns are
hashed a few at a time with DuckDB's vectorised ``hash``, most distinct first, and rows leave
the search as soon as their hash is unique, so a typical FOCUS report (no duplicates) costs a
hash of about six columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc


def duplicate_ranks(labels: pa.Table) -> pa.Array | None:
    """Each row's rank among the rows with its exact label set (1, 2, 3…), or None if all unique.

    Hashing every label of every row is the expensive way. Instead, columns are hashed a few
    at a time, most distinct (on a sample) first, chaining the previous hash: rows whose hash
    is already unique are unique and drop out, so later columns are hashed only for the few
    rows still sharing a hash. The survivors of the last round are ranked by their hash.
    """
    if labels.num_columns == 0:
        return _ranks(pa.repeat(pa.scalar(0, pa.uint64()), labels.num_rows))
    order = _most_distinct_first(labels)
    suspect = pa.repeat(pa.scalar(True), labels.num_rows)  # rows still sharing a hash
    hashes: pa.Array | None = None
    with duckdb.connect() as con:
        for start in range(0, len(order), _HASH_ROUND):
            columns = [labels.column(c) for c in order[start:start + _HASH_ROUND]]
            if hashes is not None:  # only this round's columns are narrowed (a filter copies)
                columns = [column.filter(suspect) for column in columns]
            hashes = _hash(con, columns, hashes)
            counts = pc.value_counts(hashes)
            shared = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
            if len(shared) == 0:
                return None
            still = pc.is_in(hashes, value_set=shared)
            suspect = pc.replace_with_mask(suspect, suspect, still)
            hashes = hashes.filter(still)
    assert hashes is not None  # noqa: S101 - at least one column was hashed
    ranks = _ranks(hashes)
    if ranks is None:
        return None
    ones = pa.repeat(pa.scalar(1, pa.int64()), labels.num_rows)
    return pc.replace_with_mask(ones, suspect, ranks)  # the suspects' ranks, in row order


_HASH_ROUND = 6  # columns hashed per refinement round


def _positions(count: int) -> pa.Array:
    """0, 1, … count-1 (made by a kernel: a Python ``range`` costs a boxed int per row)."""
    return pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), count)), 1)


def _most_distinct_first(labels: pa.Table, slices: int = 16, rows: int = 64) -> list[str]:
    """Label columns ordered by their distinct values in a sample of evenly spaced slices."""
    step = max(rows, labels.num_rows // slices)
    picked = pa.concat_tables(labels.slice(start, rows)
                              for start in range(0, labels.num_rows, step))
    return sorted(labels.column_names, key=lambda c: -pc.count_distinct(
        picked.column(c), mode="all").as_py())


def _hash(con: duckdb.DuckDBPyConnection, columns: Sequence[pa.ChunkedArray],
          previous: pa.Array | None) -> pa.Array:
    """DuckDB's vectorised row ``hash`` of ``columns``, chained onto ``previous``."""
    frame = pa.table({f"c{i}": column for i, column in enumerate(columns)})
    if previous is not None:
        frame = frame.append_column("p", previous)
    con.register("labels", frame)
    hashed = con.sql(f"SELECT hash({', '.join(frame.column_names)}) AS h FROM labels")
    return hashed.to_arrow_table().column("h").combine_chunks()


def _ranks(row_hash: pa.Array) -> pa.Array | None:
    """Rank of each row within its group of equal hashes, in row order; None if all unique.

    Rows are ranked within their group of equal hashes by sorting (hash, position) and
    subtracting each group's first sorted index. A hash collision only adds a label to a
    row that was already distinct, so series stay unique either way.
    """
    count = len(row_hash)
    if len(pc.unique(row_hash)) == count:
        return None
    positions = _positions(count)
    ordered = pa.table({"h": row_hash, "pos": positions}).sort_by(
        [("h", "ascending"), ("pos", "ascending")])
    hashes = ordered.column("h").combine_chunks()
    starts = pa.concat_arrays([pa.array([True]), pc.not_equal(hashes[1:], hashes[:-1])])
    first = pc.fill_null_forward(pc.if_else(starts, positions, pa.scalar(None, pa.int64())))
    rank_sorted = pc.add(pc.subtract(positions, first), 1)
    return pc.take(rank_sorted, pc.sort_indices(ordered.column("pos")))
