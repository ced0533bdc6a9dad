"""Shared pytest configuration: fixture plugins that start real servers on loopback.

Each plugin module under ``tests/fixtures/`` owns one kind of server (PostgreSQL, Prometheus,
S3 via moto, Azurite, ...) and starts it once per session on a free 127.0.0.1 port.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from focusflow import redaction

sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = [
    "fixtures.paths",
    "fixtures.s3",
    "fixtures.prometheus",
    "fixtures.upstream_http",
    "fixtures.ksm_history",
    "fixtures.recording_proxy",
    "fixtures.postgres",
    "fixtures.azure_api",
    "fixtures.azurite",
    "fixtures.databricks_sql",
    "fixtures.kube_api",
    "fixtures.focus_rules",
    "fixtures.toolkit_files",
]


@pytest.fixture(autouse=True)
def _forget_remembered_secrets() -> Iterator[None]:
    """Secret values one test's commands remembered are not redacted from the next test's
    output (one process runs them all; a real run is one command per process)."""
    yield
    redaction.forget()


def pytest_collection_modifyitems(items: list[object]) -> None:
    """Test modules are imported by basename (rootdir mode): basenames must be unique."""
    seen: dict[str, Path] = {}
    for item in items:
        path = Path(str(getattr(item, "path", "")))
        other = seen.setdefault(path.name, path)
        if other != path:
            raise RuntimeError(f"two test modules named {path.name}: {other} and {path}")
