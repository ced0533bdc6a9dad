"""``rules fetch``: the model read out of a release archive served by a PyPI-shaped HTTP server.

The server is a real ``http.server`` on 127.0.0.1 serving PyPI's JSON API shape and the release
files; the real PyPI is exercised by the session fixture ``focus_rules_cache``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from focusflow.errors import SourceError, TransientSourceError
from focusflow.focus.validation import RulesSettings, fetch_model, find_cached_model
from focusflow.focus.validation.fetch import default_cache_dir


def model_json(model_version: str, focus_version: str) -> bytes:
    return json.dumps({"Details": {"ModelVersion": model_version, "FOCUSVersion": focus_version},
                       "ApplicabilityCriteria": {}, "CheckFunctions": {}, "ModelDatasets": {},
                       "ModelRules": {}}).encode()


def wheel(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def sdist(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def fake_pypi(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "pypi"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def publish(base: str, root: Path, releases: dict[str, tuple[str, bytes]],
            bad_digest: bool = False) -> str:
    index: dict[str, object] = {"info": {"version": max(releases)}, "releases": {}}
    for version, (filename, data) in releases.items():
        (root / filename).write_bytes(data)
        digest = "0" * 64 if bad_digest else hashlib.sha256(data).hexdigest()
        index["releases"][version] = [  # type: ignore[index]
            {"filename": filename, "url": f"{base}/{filename}", "digests": {"sha256": digest}}]
    (root / "index.json").write_text(json.dumps(index))
    return f"{base}/index.json"


RELEASES = {
    "2.0.0": ("focus_validator-2.0.0-py3-none-any.whl", wheel(
        {"focus_validator/rules/model-1.2.0.1.json": model_json("1.2.0.1", "1.2"),
         "focus_validator/rules/currency_codes.csv": b"USD\n"})),
    "3.0.0": ("focus_validator-3.0.0.tar.gz", sdist(
        {"focus_validator-3.0.0/focus_validator/rules/model-1.3.0.0.json":
         model_json("1.3.0.0", "1.3")})),
    "3.1.0.dev1": ("focus_validator-3.1.0.dev1.tar.gz", sdist({})),
}


def test_newest_model_from_an_sdist(fake_pypi: tuple[str, Path], tmp_path: Path) -> None:
    base, root = fake_pypi
    settings = RulesSettings(cache_dir=tmp_path / "cache", pypi_url=publish(base, root, RELEASES))
    path, model = fetch_model(None, settings)
    assert (model.focus_version, model.model_version) == ("1.3", "1.3.0.0")
    assert path == tmp_path / "cache" / "model-1.3.0.0.json"


def test_older_release_wheel_for_an_older_version(
    fake_pypi: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = fake_pypi
    settings = RulesSettings(cache_dir=tmp_path / "cache", pypi_url=publish(base, root, RELEASES))
    _, model = fetch_model("1.2", settings)
    assert model.model_version == "1.2.0.1"
    found = find_cached_model("1.2", settings)
    assert found is not None
    assert found[1].model_version == "1.2.0.1"
    assert find_cached_model("1.0", settings) is None


def test_a_version_nobody_ships(fake_pypi: tuple[str, Path], tmp_path: Path) -> None:
    base, root = fake_pypi
    settings = RulesSettings(cache_dir=tmp_path / "cache", pypi_url=publish(base, root, RELEASES))
    with pytest.raises(SourceError, match="--rules FILE"):
        fetch_model("1.9", settings)


def test_digest_mismatch_is_refused(fake_pypi: tuple[str, Path], tmp_path: Path) -> None:
    base, root = fake_pypi
    settings = RulesSettings(cache_dir=tmp_path / "cache",
                             pypi_url=publish(base, root, RELEASES, bad_digest=True))
    with pytest.raises(SourceError, match="SHA-256"):
        fetch_model("1.2", settings)
    assert not (tmp_path / "cache").exists()


def test_unreachable_index(tmp_path: Path) -> None:
    settings = RulesSettings(cache_dir=tmp_path / "cache",
                             pypi_url="http://127.0.0.1:9/pypi/focus-validator/json",
                             timeout_seconds=5)
    with pytest.raises(TransientSourceError, match="cannot reach PyPI"):
        fetch_model("1.2", settings)


@pytest.mark.parametrize("name", [None, "FOCUSFLOW_CACHE_DIR", "focusflow_cache_dir"])
def test_validate_finds_the_cache_directory_the_settings_give(
    name: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 'validate' reads the cache directory without pydantic-settings (start-up cost): it must
    # be the one RulesSettings (what 'rules fetch' stores into) gives, however it is set.
    for key in list(os.environ):
        if key.upper() == "FOCUSFLOW_CACHE_DIR":
            monkeypatch.delenv(key)
    if name is not None:
        monkeypatch.setenv(name, str(tmp_path / name))
    assert default_cache_dir() == RulesSettings().cache_dir
    if name is not None:
        assert default_cache_dir() == tmp_path / name


def test_a_model_stored_by_rules_fetch_is_found_through_the_environment(
    fake_pypi: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = fake_pypi
    monkeypatch.setenv("FOCUSFLOW_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FOCUSFLOW_PYPI_URL", publish(base, root, RELEASES))
    fetch_model("1.2")
    found = find_cached_model("1.2")
    assert found is not None
    assert found[0].parent == tmp_path / "cache"


def test_validate_does_not_import_pydantic_settings() -> None:
    code = ("import sys, focusflow.cli.app, focusflow.cli.validate; "
            "print('pydantic_settings' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
