"""Shared pytest configuration: fixture plugins that start real servers on loopback.

Each plugin module under ``tests/fixtures/`` owns one kind of server (PostgreSQL, Prometheus,
S3 via moto, Azurite, ...) and starts it once per session on a free 127.0.0.1 port.
"""

from __future__ import annotations

import sys
from pathlib import Path

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


def pytest_collection_modifyitems(items: list[object]) -> None:
    """Test modules are imported by basename (rootdir mode): basenames must be unique."""
    seen: dict[str, Path] = {}
    for item in items:
        path = Path(str(getattr(item, "path", "")))
        other = seen.setdefault(path.name, path)
        if other != path:
            raise RuntimeError(f"two test modules named {path.name}: {other} and {path}")
