"""A truncated or damaged gzip file is an ``InputError`` naming the file, whether the damage is
met while opening (first block) or later while streaming, never a bare ``EOFError``."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from fixtures.paths import EXAMPLES
from focusflow.errors import InputError
from focusflow.focus import FocusReader

SAMPLE = EXAMPLES / "focus_1_2_cost_and_usage_aws.csv"


def _read_all(path: Path) -> int:
    with FocusReader(str(path)) as reader:
        return sum(batch.num_rows for batch in reader.batches())


@pytest.mark.parametrize("keep", [0.01, 0.9])
def test_truncated_gzip_is_an_input_error(tmp_path: Path, keep: float) -> None:
    header, _, rows = SAMPLE.read_bytes().partition(b"\n")
    body = gzip.compress(header + b"\n" + rows * 4)  # several CSV blocks once decompressed
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(body[: int(len(body) * keep)])
    with pytest.raises(InputError, match=r"corrupt (or truncated )?gzip data") as caught:
        _read_all(path)
    assert str(path) in str(caught.value)


def test_damaged_gzip_is_an_input_error(tmp_path: Path) -> None:
    body = bytearray(gzip.compress(SAMPLE.read_bytes()))
    body[len(body) // 2: len(body) // 2 + 64] = b"\xff" * 64
    path = tmp_path / "damaged.csv.gz"
    path.write_bytes(bytes(body))
    with pytest.raises(InputError, match="corrupt or truncated gzip data"):
        _read_all(path)
