"""Why DuckDB's own CSV parser does not read focusflow's CSV (docs/ingest.md, "Why Arrow still
parses the CSV"): even with ``strict_mode`` it reads some files differently from Arrow, the
parser every load uses, and says nothing. Arrow's reading is the one FOCUS loads must keep, so
these pin both readings: if a DuckDB release closes the differences, this fails and the
decision can be revisited (the bench says what DuckDB's parser would save: about 0.1 s of CPU
per 200k rows, measured against Arrow's)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from focusflow.errors import InputError
from focusflow.focus import FocusReader

# (file body, what Arrow reads: the rows of column b, or "refused")
CASES = {
    "space before a quoted field": ('a,b\n1, "x"\n', [' "x"']),
    "space after a quoted field": ('a,b\n1,"x" \n', ["x "]),
    "an extra empty trailing field": ("a,b\n1,2,\n", "refused"),
}


def arrow_reading(path: Path) -> list[str | None] | str:
    try:
        with FocusReader(str(path), require_mandatory=False) as reader:
            return [value for batch in reader.text_batches()
                    for value in batch.column(1).to_pylist()]
    except InputError:
        return "refused"


def duckdb_reading(path: Path) -> list[str | None] | str:
    try:
        rows = duckdb.connect().execute(
            "SELECT b FROM read_csv(?, header = true, auto_detect = false, "
            "columns = {'a': 'VARCHAR', 'b': 'VARCHAR'}, delim = ',', quote = '\"', "
            "escape = '\"', nullstr = ['', 'NULL'], allow_quoted_nulls = false, "
            "strict_mode = true)", [str(path)]).fetchall()
    except duckdb.Error:
        return "refused"
    return [row[0] for row in rows]


@pytest.mark.parametrize("case", CASES)
def test_duckdb_strict_mode_still_reads_these_files_differently_from_arrow(
    tmp_path: Path, case: str
) -> None:
    body, arrow = CASES[case]
    path = tmp_path / "f.csv"
    path.write_text(body, encoding="utf-8")
    assert arrow_reading(path) == arrow
    assert duckdb_reading(path) != arrow
