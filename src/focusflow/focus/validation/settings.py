"""Where requirements models are cached and where PyPI is: ``FOCUSFLOW_*`` settings.

Model layer. Apart from ``fetch.py`` so that ``validate``, which only looks up the cache
directory (``fetch.default_cache_dir``), does not import pydantic-settings (about 0.07 s of
CPU at every start); ``rules fetch`` and callers passing their own settings use this class.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from focusflow.focus.validation.fetch import PYPI_JSON, user_rules_dir


class RulesSettings(BaseSettings):
    """Where models are cached and where PyPI is."""

    model_config = SettingsConfigDict(env_prefix="FOCUSFLOW_")

    cache_dir: Path = Field(default_factory=user_rules_dir)
    pypi_url: str = PYPI_JSON
    timeout_seconds: float = 60.0
