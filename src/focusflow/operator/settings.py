"""Operator settings from flags and ``FOCUSFLOW_OPERATOR_*`` environment variables (operator layer).

Everything the render functions need besides the custom resources themselves: the image the
children run, the default database for Krateo-only DatabaseConfigs, namespaces to watch.
"""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_IMAGE = "ghcr.io/focusflow/focusflow:0.1.0"
# An image reference must carry an explicit tag or digest: Krateo renders an empty tag for
# "latest" (reference section 9, R18), and a floating tag makes rollouts unpredictable.
_PINNED = re.compile(r"^[^\s:@]+(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$")


class OperatorSettings(BaseSettings):
    """Configuration of ``focusflow operator``; each field has a ``FOCUSFLOW_OPERATOR_`` env var."""

    model_config = SettingsConfigDict(env_prefix="FOCUSFLOW_OPERATOR_", frozen=True)

    image: str = Field(default=DEFAULT_IMAGE, description="Image the children run.")
    image_pull_policy: str = Field(default="IfNotPresent")
    image_pull_secrets: list[str] = Field(default=[])
    namespaces: list[str] = Field(
        default=[], description="Namespaces to serve; empty means the whole cluster.")
    database_secret: str | None = Field(
        default="focusflow-database",
        description="Secret (in each pipeline's namespace) whose key `database_secret_key` holds "
                    "the database URL for DatabaseConfigs without a `type`.")
    database_secret_key: str = Field(default="url")
    resync_seconds: float = Field(default=300.0, gt=0,
                                  description="Periodic drift check of every CR.")
    prometheus_namespace: str = Field(
        default="monitoring",
        description="Namespace of the Prometheus allowed to scrape exporters (NetworkPolicy).")
    prometheus_selector: dict[str, str] = Field(
        default={"app.kubernetes.io/name": "prometheus"},
        description="Labels of the Prometheus pods in that namespace ({} = every pod there).")
    # Sized from bench/exporter.py --clients 50 (docs/operator.md "Exporter memory"): a
    # 200k-row, 245 MB report idles at 704 MB RSS, 50 concurrent clients add nothing
    # measurable (1.00x), and a re-poll holds the old snapshot while building the new one
    # (~1.4 GiB). Larger reports: about 3x the CSV to request, 6x to limit.
    exporter_memory_request: str = Field(default="768Mi")
    exporter_memory_limit: str = Field(default="2Gi")
    token_key: SecretStr | None = Field(
        default=None, description="Key the /rows tokens are derived from (a Secret); without "
        "one, a key per operator process (tokens are replaced when it restarts).")

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        last = value.rsplit("/", 1)[-1]
        if not _PINNED.match(value) or (":" not in last and "@" not in last):
            raise ValueError(f"image {value!r} needs an explicit tag or digest")
        return value
