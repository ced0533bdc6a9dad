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
    "fixtures.ksm_history",
    "fixtures.recording_proxy",
    "fixtures.kube_api",
    "fixtures.upstream_http",
    "fixtures.postgres",
    "fixtures.azure_api",
    "fixtures.azurite",
    "fixtures.databricks_sql",
    "fixtures.focus_rules",
]
