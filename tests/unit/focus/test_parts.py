"""Multi-part loads: several local part files read as one typed stream (focus.parts)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from fixtures.paths import EXAMPLES
from focusflow.errors import InputError
from focusflow.focus import HttpOptions
from focusflow.focus.parts import MultiPartReader, Part, PartsLoad, expand_location

SAMPLE = EXAMPLES / "focus_1_2_cost_and_usage_azure.csv"


def write_parts(folder: Path, sizes: list[int]) -> list[Path]:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    paths, start = [], 0
    for index, size in enumerate(sizes):
        path = folder / f"part_{index}.csv.gz"
        path.write_bytes(gzip.compress((header + "".join(body[start:start + size])).encode(),
                                       mtime=0))
        paths.append(path)
        start += size
    return paths


def load_of(paths: list[Path], sizes: list[int | None] | None = None) -> PartsLoad:
    sizes = sizes or [p.stat().st_size for p in paths]
    return PartsLoad("run", "src", tuple(Part(str(p), s) for p, s in zip(paths, sizes,
                                                                        strict=True)))


def test_parts_stream_as_one(tmp_path: Path) -> None:
    paths = write_parts(tmp_path, [300, 500, 200])
    with MultiPartReader(load_of(paths)) as reader:
        rows = sum(batch.num_rows for batch in reader.batches())
        assert rows == reader.rows_read == 1000
        assert reader.bytes_read == sum(p.stat().st_size for p in paths) == reader.total_bytes
        first = reader.fingerprint
    with MultiPartReader(load_of(paths)) as again:
        list(again.batches())
        assert again.fingerprint == first


def test_known_fingerprint_wins(tmp_path: Path) -> None:
    paths = write_parts(tmp_path, [10])
    load = PartsLoad("run", "src", (Part(str(paths[0])),), known_fingerprint="run-42")
    with MultiPartReader(load) as reader:
        assert reader.fingerprint == "run-42"


def test_wrong_size_is_an_input_error(tmp_path: Path) -> None:
    paths = write_parts(tmp_path, [10, 10])
    load = load_of(paths, [paths[0].stat().st_size, paths[1].stat().st_size + 5])
    with MultiPartReader(load) as reader, pytest.raises(InputError, match="manifest lists"):
        list(reader.batches())


def test_parts_must_share_a_header(tmp_path: Path) -> None:
    paths = write_parts(tmp_path, [10])
    other = tmp_path / "other.csv"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    other.write_text(lines[0].rstrip("\n") + ",x_Extra\n" + lines[1].rstrip("\n") + ",1\n")
    with MultiPartReader(load_of([paths[0], other])) as reader, \
            pytest.raises(InputError, match="differ from the first part"):
        list(reader.batches())


def test_plain_paths_are_not_expanded(tmp_path: Path) -> None:
    assert expand_location(str(SAMPLE), HttpOptions()) is None
