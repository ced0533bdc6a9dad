"""Shared by the allocation integration tests."""

from __future__ import annotations

import pytest

from fixtures.k8s_export_support import job_env


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PROMETHEUS_* variables from the shell; one attempt per query (errors come fast)."""
    job_env(monkeypatch, MAX_ATTEMPTS="1")
