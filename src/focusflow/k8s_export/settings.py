"""Settings of the Kubernetes metrics export job (jobs layer): the Finout environment contract.

Every field reads the environment variable Finout documents for its CronJob (same name, same
default, the same value forms: ``BACKFILL_DAYS: "3d"`` as well as ``3``, and
``INITIAL_BACKFILL_DATE`` from Finout's exporter release notes), plus focusflow's extras
(``QUERY_DELAY_SECONDS``, ``RETENTION_DAYS``, ``METRICS``,
``PROMETHEUS_URL``, ...). CLI flags are passed as init values and win over the environment.
Validation errors become one ``ConfigError`` naming the variable and what was expected.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from focusflow.errors import ConfigError
from focusflow.k8s_export.catalogue import CATALOGUE, DEFAULT_METRICS

SECONDS_PER_DAY = 86_400
# Finout's docs write BACKFILL_DAYS: "3d"; focusflow has always taken a plain number of days.
_DAYS = re.compile(r"([0-9]+)d?")
BACKFILL_FORMS = 'a whole number of days: 3 or 3d (as Finout\'s docs write it)'
INITIAL_DATE_FORMS = ("a UTC date YYYY-MM-DD (e.g. 2025-10-01) or an ISO 8601 time "
                      "(e.g. 2025-10-01T00:00:00Z)")


def parse_days(value: object) -> int:
    """``3``, ``"3"`` or ``"3d"`` as a number of days; anything else is a ``ValueError``
    listing the accepted forms."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _DAYS.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"expected {BACKFILL_FORMS}, got {str(value)!r}")
    return int(match.group(1))


def parse_initial_date(value: object) -> datetime | None:
    """``INITIAL_BACKFILL_DATE`` as an aware UTC moment (a date is its midnight UTC); empty
    means unset, as a manifest that keeps the variable with ``value: ""``."""
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if isinstance(value, datetime) else None
    text = str(value).strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected {INITIAL_DATE_FORMS}, got {text!r}") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _env(name: str, *aliases: str) -> Any:
    """Validation alias accepting the environment name (and aliases) and the field name."""
    return AliasChoices(name, *aliases)


class ExportSettings(BaseSettings):
    """One run of ``focusflow k8s-export``; field aliases are the environment variable names."""

    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=True, populate_by_name=True, extra="ignore",
        hide_input_in_errors=True,
    )

    # --- destination -------------------------------------------------------------------------
    cluster_name: str = Field(validation_alias=_env("CLUSTER_NAME"), min_length=1)
    s3_bucket: str = Field(validation_alias=_env("S3_BUCKET"), min_length=1,
                           description="bucket name, s3://bucket, or file:///dir for local files")
    s3_prefix: str = Field("k8s/prometheus", validation_alias=_env("S3_PREFIX"))
    role_arn: str = Field("", validation_alias=_env("ROLE_ARN"))
    role_external_id: SecretStr = Field(SecretStr(""), validation_alias=_env("ROLE_EXTERNAL_ID"))
    aws_endpoint_url: str = Field("", validation_alias=_env("AWS_ENDPOINT_URL"))

    # --- Prometheus endpoint -----------------------------------------------------------------
    prometheus_url: str = Field("", validation_alias=_env("PROMETHEUS_URL"))
    scheme: str = Field("http", validation_alias=_env("SCHEME"))
    # PROMETHEUS_HOST is the non-clashing alias: runtimes set HOSTNAME to the pod name.
    hostname: str = Field("localhost", validation_alias=_env("PROMETHEUS_HOST", "HOSTNAME"))
    port: int = Field(9090, validation_alias=_env("PORT"), ge=1, le=65535)
    path_prefix: str = Field("", validation_alias=_env("PATH_PREFIX"))
    prometheus_auth_token: SecretStr | None = Field(
        None, validation_alias=_env("PROMETHEUS_AUTH_TOKEN"))
    prometheus_bearer_auth_token: SecretStr | None = Field(
        None, validation_alias=_env("PROMETHEUS_BEARER_AUTH_TOKEN"))
    prometheus_username: str = Field("", validation_alias=_env("PROMETHEUS_USERNAME"))
    prometheus_password: SecretStr | None = Field(
        None, validation_alias=_env("PROMETHEUS_PASSWORD"))
    prometheus_x_scope_orgid: str = Field("", validation_alias=_env("PROMETHEUS_X_SCOPE_ORGID"))
    prometheus_ca_file: str = Field("", validation_alias=_env("PROMETHEUS_CA_FILE"))
    prometheus_insecure: bool = Field(False, validation_alias=_env("PROMETHEUS_INSECURE"))
    cluster_label: str = Field("", validation_alias=_env("CLUSTER_LABEL"),
                               description="label filtered by CLUSTER_NAME on a central store")

    # --- windows, pacing, retention ----------------------------------------------------------
    time_frame: int = Field(3600, validation_alias=_env("TIME_FRAME"))
    backfill_days: int = Field(3, validation_alias=_env("BACKFILL_DAYS"), ge=0, le=3650)
    initial_backfill_date: datetime | None = Field(
        None, validation_alias=_env("INITIAL_BACKFILL_DATE"),
        description="first run starts here instead of BACKFILL_DAYS ago; no later window is "
                    "ever skipped")
    retention_days: int = Field(30, validation_alias=_env("RETENTION_DAYS"), ge=0, le=36500)
    query_delay_seconds: float = Field(5.0, validation_alias=_env("QUERY_DELAY_SECONDS"),
                                       ge=0, le=3600)
    safety_lag_seconds: int = Field(3600, validation_alias=_env("SAFETY_LAG_SECONDS"), ge=0)
    step_seconds: int = Field(60, validation_alias=_env("QUERY_STEP_SECONDS"), ge=1)
    max_points: int = Field(11_000, validation_alias=_env("MAX_POINTS_PER_SERIES"), ge=2)
    request_timeout_seconds: float = Field(120.0, validation_alias=_env("REQUEST_TIMEOUT_SECONDS"),
                                           gt=0)
    max_attempts: int = Field(5, validation_alias=_env("MAX_ATTEMPTS"), ge=1, le=20)
    allow_partial: bool = Field(False, validation_alias=_env("ALLOW_PARTIAL_RESPONSES"))
    metrics: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_METRICS, validation_alias=_env("METRICS"))

    @field_validator("backfill_days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> int:
        return parse_days(value)

    @field_validator("initial_backfill_date", mode="before")
    @classmethod
    def _initial_date(cls, value: Any) -> datetime | None:
        return parse_initial_date(value)

    @field_validator("metrics", mode="before")
    @classmethod
    def _split_metrics(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in CATALOGUE]
        if unknown:
            raise ValueError(f"unknown metric(s) {', '.join(unknown)}; "
                             f"expected a comma-separated subset of {', '.join(CATALOGUE)}")
        if not value:
            raise ValueError("expected at least one metric")
        return tuple(dict.fromkeys(value))

    @field_validator("time_frame")
    @classmethod
    def _divides_day(cls, value: int) -> int:
        # Windows are aligned to UTC multiples and filed under their start day: a length that
        # divides a day keeps every window inside one day partition.
        if value < 60 or SECONDS_PER_DAY % value:
            raise ValueError("expected a number of seconds >= 60 that divides 86400 "
                             "(e.g. 300, 900, 3600, 86400)")
        return value

    @field_validator("s3_prefix", "path_prefix")
    @classmethod
    def _strip_slashes(cls, value: str) -> str:
        return value.strip().strip("/")

    @field_validator("scheme")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value.lower() not in {"http", "https"}:
            raise ValueError("expected http or https")
        return value.lower()

    @field_validator("prometheus_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # Without a scheme httpx refuses every request as a transport error, which the client
        # would retry for seconds: refuse it here, once, instead.
        scheme, sep, rest = value.strip().partition("://")
        if value and (not sep or scheme.lower() not in {"http", "https"} or not rest.strip("/")):
            # The value is not echoed: it may carry a user and password.
            raise ValueError("is not an http:// or https:// URL; expected e.g. "
                             "http://prometheus-server.monitoring:9090")
        return value.strip()

    @model_validator(mode="after")
    def _one_authorization(self) -> ExportSettings:
        sources = [name for name, set_ in (
            ("PROMETHEUS_AUTH_TOKEN", self.prometheus_auth_token is not None),
            ("PROMETHEUS_BEARER_AUTH_TOKEN", self.prometheus_bearer_auth_token is not None),
            ("PROMETHEUS_USERNAME", bool(self.prometheus_username)),
        ) if set_]
        if len(sources) > 1:
            raise ValueError(f"{' and '.join(sources)} both set the Authorization header; "
                             "set only one")
        if self.prometheus_password is not None and not self.prometheus_username:
            raise ValueError("PROMETHEUS_PASSWORD is set without PROMETHEUS_USERNAME")
        return self

    @property
    def base_url(self) -> str:
        """Prometheus API base (everything before ``/api/v1``)."""
        if self.prometheus_url:
            return self.prometheus_url.rstrip("/")
        prefix = f"/{self.path_prefix}" if self.path_prefix else ""
        return f"{self.scheme}://{self.hostname}:{self.port}{prefix}"

    @property
    def cluster_root(self) -> str:
        """Key prefix every object of this cluster lives under (no trailing slash)."""
        return "/".join(part for part in (self.s3_prefix, self.cluster_name) if part)


def _field_env_name(field: str) -> str:
    alias = ExportSettings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        return first if isinstance(first, str) else field
    return field


def load_settings(*, subject: str = "k8s-export settings",
                  labels: Mapping[str, str] | None = None, **overrides: Any) -> ExportSettings:
    """Settings from the environment, ``overrides`` (CLI flags; None = not given) winning.

    A problem is reported as ``invalid <subject>``, each naming its variable (``PROMETHEUS_URL``)
    or what ``labels`` maps it to (another command's flag, ``--prometheus``).

    ``HOSTNAME`` is ignored when it equals the machine's own host name: container runtimes set
    it to the pod name, so only a value the manifest set on purpose names the Prometheus host.
    """
    named = labels or {}
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        settings = ExportSettings(**given)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = str(error["loc"][0]) if error["loc"] else "settings"
            name = _field_env_name(where) if where in ExportSettings.model_fields else where
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "missing":
                message = "is required"
            problems.append(f"{named.get(name, name)}: {message}")
        raise ConfigError(f"invalid {subject}: " + "; ".join(problems)) from None
    if "hostname" not in given and settings.hostname == socket.gethostname():
        settings = settings.model_copy(update={"hostname": "localhost"})
    return settings
