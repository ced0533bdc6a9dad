"""Content seen before: the same rows under another name are refused, compressed or not.

Real artifact: the focus-data-toolkit AWS FOCUS 1.2 file (examples/data). A renamed copy, and
the same rows gzip-compressed, hash to the content the first source loaded: the load is
refused naming that source and nothing is committed, unless ``--allow-same-content``.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from fixtures.paths import EXAMPLES, FOCUS_SAMPLE_DATA
from focusflow.cli import app
from focusflow.ingest.job import SameContentError

pytestmark = pytest.mark.integration
runner = CliRunner()
AWS = EXAMPLES / "focus_1_2_cost_and_usage_aws.csv"
GCP = EXAMPLES / "focus_1_2_cost_and_usage_gcp.csv"
UPSTREAM = FOCUS_SAMPLE_DATA / "focus_sample_excerpt.csv"


def ingest(db: Path, *args: str | Path) -> object:
    result = runner.invoke(app, ["ingest", *map(str, args), "--db", f"duckdb:///{db}"])
    return result.exception if result.exit_code else result.exit_code


def by_source(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT _focusflow_source, count(*) FROM focus GROUP BY 1").fetchall()
    finally:
        con.close()
    return {Path(source).name: count for source, count in rows}


@pytest.fixture
def loaded(tmp_path: Path) -> tuple[Path, Path]:
    first = tmp_path / "aws-2026-05.csv"
    shutil.copyfile(AWS, first)
    db = tmp_path / "f.duckdb"
    assert ingest(db, first) == 0
    return db, first


@pytest.mark.parametrize("form", ["renamed", "gzip"])
def test_the_same_content_under_another_name_is_refused(
    loaded: tuple[Path, Path], tmp_path: Path, form: str
) -> None:
    db, first = loaded
    again = tmp_path / "copy" / ("aws.csv" if form == "renamed" else "aws.csv.gz")
    again.parent.mkdir()
    data = first.read_bytes()
    again.write_bytes(data if form == "renamed" else gzip.compress(data))
    refused = ingest(db, again)
    assert isinstance(refused, SameContentError)
    message = str(refused)
    assert message.startswith(f"{again}: holds the same content as {first}")
    assert "--allow-same-content" in message
    assert by_source(db) == {first.name: 2000}  # nothing committed, nothing counted twice


def test_allow_same_content_loads_it_anyway(loaded: tuple[Path, Path], tmp_path: Path) -> None:
    db, first = loaded
    again = tmp_path / "aws.csv.gz"
    again.write_bytes(gzip.compress(first.read_bytes()))
    assert ingest(db, again, "--allow-same-content") == 0
    assert by_source(db) == {first.name: 2000, again.name: 2000}


def test_the_same_source_again_is_unchanged_and_other_content_loads(
    loaded: tuple[Path, Path], tmp_path: Path
) -> None:
    db, first = loaded
    result = runner.invoke(app, ["ingest", str(first), "--db", f"duckdb:///{db}"])
    assert result.exit_code == 0 and "unchanged" in result.output
    assert ingest(db, GCP) == 0
    assert by_source(db) == {first.name: 2000, GCP.name: 2000}


def test_content_still_in_the_table_is_refused_after_its_source_moved_on(
    tmp_path: Path,
) -> None:
    # The source first loads the FinOps Foundation sample (billing periods 2024-09/10), then
    # other rows (2026-05): the 2024 rows stay, so their content under another name is refused.
    lines = UPSTREAM.read_text(encoding="utf-8").splitlines()
    upstream = tmp_path / "upstream.csv"
    upstream.write_text("\n".join([lines[0], *(x for x in lines[1:] if "Usage-based" not in x)])
                        + "\n", encoding="utf-8")
    source, db = tmp_path / "billing.csv", tmp_path / "f.duckdb"
    shutil.copyfile(upstream, source)
    assert ingest(db, source) == 0
    shutil.copyfile(AWS, source)
    assert ingest(db, source) == 0
    assert by_source(db) == {source.name: 48 + 2000}
    refused = ingest(db, upstream)
    assert isinstance(refused, SameContentError)
    assert f"same content as {source}" in str(refused)


def test_content_replaced_by_its_source_may_load_elsewhere(
    loaded: tuple[Path, Path], tmp_path: Path
) -> None:
    # The first source now holds other rows: its old content is no longer in the table.
    db, first = loaded
    old = tmp_path / "old-aws.csv"
    shutil.copyfile(first, old)
    shutil.copyfile(GCP, first)
    assert ingest(db, first) == 0
    assert ingest(db, old) == 0
