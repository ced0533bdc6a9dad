"""Build small FOCUS files for validator tests: a clean base from the samples, then edits."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fixtures.paths import EXAMPLES

BASE = EXAMPLES / "focus_1_2_cost_and_usage_aws.csv"


def base_rows(count: int = 5) -> tuple[list[str], list[list[str]]]:
    """Header and the first ``count`` data rows of a clean FOCUS 1.2 sample."""
    with BASE.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [next(reader) for _ in range(count)]
    return header, rows


def write_csv(
    path: Path,
    edits: dict[tuple[int, str], str] | None = None,
    *,
    rows: int = 5,
    drop: tuple[str, ...] = (),
    add: dict[str, str] | None = None,
) -> Path:
    """A clean sample with cells replaced: ``edits[(row, column)] = value`` (rows from 1)."""
    header, data = base_rows(rows)
    for (row, column), value in (edits or {}).items():
        data[row - 1][header.index(column)] = value
    for name, value in (add or {}).items():
        header.append(name)
        for row_values in data:
            row_values.append(value)
    keep = [i for i, name in enumerate(header) if name not in drop]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([header[i] for i in keep])
    for row_values in data:
        writer.writerow([row_values[i] for i in keep])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path
