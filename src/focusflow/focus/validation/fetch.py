"""Obtain the FOCUS requirements model from the ``focus-validator`` package on PyPI, and cache it.

Model layer (network access through httpx, as ``focus/locations.py``). The model JSON is not
copied into this repository: ``fetch_model`` asks PyPI's JSON API for the package's releases,
downloads a release's wheel (or, as 2.x publishes only an sdist, its source archive), checks
the SHA-256 PyPI states, and reads ``focus_validator/rules/model-*.json`` out of the archive
without installing anything. The file lands in the user cache directory
(``platformdirs``; override with ``FOCUSFLOW_CACHE_DIR``), after which validation works offline.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_cache_dir

from focusflow.errors import ConfigError, SourceError, TransientSourceError
from focusflow.focus.validation.model import RequirementsModel, parse_model

if TYPE_CHECKING:
    import httpx

    from focusflow.focus.validation.settings import RulesSettings

log = logging.getLogger(__name__)

PYPI_JSON = "https://pypi.org/pypi/focus-validator/json"
_MEMBER = re.compile(r"(^|/)focus_validator/rules/model-[^/]+\.json$")
_MAX_RELEASES = 6  # older releases tried when the newest lacks the requested FOCUS version
# FOCUS versions whose requirements model a focus-validator release on PyPI ships (checked
# 2026-12: every release ships FOCUS 1.2 models only). ``validate`` suggests ``rules fetch``
# only for these; ``rules fetch`` still asks PyPI for any version, a newer release may add one.
PUBLISHED_MODEL_VERSIONS = ("1.2",)


def how_to_get_model(focus_version: str) -> str:
    """What gives the user a FOCUS ``focus_version`` model: ``rules fetch`` only where a
    package ships one (suggesting it elsewhere sends them to a command that cannot work)."""
    if focus_version in PUBLISHED_MODEL_VERSIONS:
        return f"run 'focusflow rules fetch --version {focus_version}' or pass --rules FILE"
    return (f"no package publishes a FOCUS {focus_version} model (focus-validator ships FOCUS "
            f"{', '.join(PUBLISHED_MODEL_VERSIONS)}): pass one with --rules FILE")


def user_rules_dir() -> Path:
    """The default cache directory: ``rules`` in the user cache directory of focusflow."""
    return Path(user_cache_dir("focusflow")) / "rules"


def default_cache_dir() -> Path:
    """The cache directory ``RulesSettings()`` gives, read without pydantic-settings.

    ``FOCUSFLOW_CACHE_DIR`` (in any case, as pydantic-settings matches environment names),
    else ``user_rules_dir()``. ``tests/unit/focus/test_validation_fetch.py`` pins that the two
    agree.
    """
    for name, value in os.environ.items():
        if name.upper() == "FOCUSFLOW_CACHE_DIR":
            return Path(value)
    return user_rules_dir()


def _settings() -> RulesSettings:
    from focusflow.focus.validation.settings import RulesSettings  # noqa: PLC0415 - see module

    return RulesSettings()


def cached_models(settings: RulesSettings | None = None) -> list[tuple[Path, RequirementsModel]]:
    """Models in the cache, newest model version first."""
    cache_dir = settings.cache_dir if settings is not None else default_cache_dir()
    found = []
    for path in sorted(cache_dir.glob("model-*.json")):
        try:
            model = parse_model(json.loads(path.read_text(encoding="utf-8")), str(path))
        except (OSError, ValueError, ConfigError):
            log.warning("ignoring unreadable cached model %s", path)
            continue
        found.append((path, model))
    return sorted(found, key=lambda item: _version_key(item[1].model_version), reverse=True)


def find_cached_model(
    focus_version: str, settings: RulesSettings | None = None
) -> tuple[Path, RequirementsModel] | None:
    """The newest cached model for ``focus_version``, or None."""
    for path, model in cached_models(settings):
        if model.focus_version == focus_version:
            return path, model
    return None


def fetch_model(focus_version: str | None = None,
                settings: RulesSettings | None = None) -> tuple[Path, RequirementsModel]:
    """Download the model for ``focus_version`` (default: the newest published) into the cache."""
    import httpx  # noqa: PLC0415 - only 'rules fetch' goes online: 'validate' starts faster

    settings = settings or _settings()
    with httpx.Client(timeout=settings.timeout_seconds, follow_redirects=True) as client:
        index = _get(client, settings.pypi_url).json()
        releases = _releases(index)
        if not releases:
            raise SourceError(f"{settings.pypi_url}: the focus-validator project lists no files")
        shipped: set[str] = set()
        for release, files in releases[:_MAX_RELEASES]:
            archive = _pick_file(files)
            if archive is None:
                continue
            data = _get(client, archive["url"]).content
            _verify(data, archive)
            models = _models_in(data, archive["filename"])
            shipped |= _focus_versions(models)
            chosen = _choose(models, focus_version)
            if chosen is not None:
                name, raw = chosen
                model = parse_model(json.loads(raw), f"{archive['filename']}:{name}")
                path = _store(raw, model, settings.cache_dir)
                log.info("stored FOCUS %s model %s from focus-validator %s in %s",
                         model.focus_version, model.model_version, release, path)
                return path, model
    wanted = f"FOCUS {focus_version}" if focus_version else "any FOCUS"
    found = (f"they ship FOCUS {', '.join(sorted(shipped))} models only" if shipped
             else "they ship no model at all")
    raise SourceError(
        f"no package on PyPI ships a {wanted} requirements model (the newest "
        f"{_MAX_RELEASES} focus-validator releases were checked: {found}); 'validate' checks "
        f"the column catalogue without one, or pass a model file with --rules FILE"
    )


def _focus_versions(models: dict[str, bytes]) -> set[str]:
    versions = set()
    for raw in models.values():
        try:
            version = json.loads(raw).get("Details", {}).get("FOCUSVersion")
        except ValueError:
            continue
        if version:
            versions.add(str(version))
    return versions


def _get(client: httpx.Client, url: str) -> httpx.Response:
    import httpx  # noqa: PLC0415 - see fetch_model

    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise TransientSourceError(f"{url}: cannot reach PyPI ({type(exc).__name__}: {exc})") \
            from exc
    if response.status_code >= 500:
        raise TransientSourceError(f"{url}: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise SourceError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
    return response


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in re.split(r"[.]", version))


def _releases(index: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Final releases (no dev/rc), newest first, with their files."""
    releases = [
        (version, files) for version, files in index.get("releases", {}).items()
        if re.fullmatch(r"\d+(\.\d+)*", version) and files
        and not all(f.get("yanked") for f in files)
    ]
    return sorted(releases, key=lambda item: _version_key(item[0]), reverse=True)


def _pick_file(files: list[dict[str, Any]]) -> dict[str, Any] | None:
    live = [f for f in files if not f.get("yanked")]
    wheels = [f for f in live if f["filename"].endswith(".whl")]
    sdists = [f for f in live if f["filename"].endswith((".tar.gz", ".zip"))]
    choices = wheels or sdists
    return choices[0] if choices else None


def _verify(data: bytes, archive: dict[str, Any]) -> None:
    expected = archive.get("digests", {}).get("sha256")
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise SourceError(f"{archive['filename']}: SHA-256 differs from what PyPI states")


def _models_in(data: bytes, filename: str) -> dict[str, bytes]:
    """Every ``focus_validator/rules/model-*.json`` in a wheel, zip or tar.gz archive."""
    import tarfile  # noqa: PLC0415 - only a fetch reads archives; validate finds the cache

    try:
        if filename.endswith((".whl", ".zip")):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return {n: archive.read(n) for n in archive.namelist() if _MEMBER.search(n)}
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            found = {}
            for member in tar.getmembers():
                if member.isfile() and _MEMBER.search(member.name):
                    handle = tar.extractfile(member)
                    if handle is not None:
                        found[member.name] = handle.read()
            return found
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise SourceError(f"{filename}: not a readable archive: {exc}") from exc


def _choose(models: dict[str, bytes], focus_version: str | None) -> tuple[str, bytes] | None:
    candidates = []
    for name, raw in models.items():
        try:
            details = json.loads(raw).get("Details", {})
        except ValueError:
            continue
        if focus_version is None or details.get("FOCUSVersion") == focus_version:
            candidates.append((_version_key(str(details.get("ModelVersion", "0"))), name, raw))
    if not candidates:
        return None
    _, name, raw = max(candidates)
    return name, raw


def _store(raw: bytes, model: RequirementsModel, cache_dir: Path) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"model-{model.model_version}.json"
    partial = path.with_suffix(".json.part")
    partial.write_bytes(raw)
    partial.replace(path)  # atomic: a reader never sees half a model
    return path
