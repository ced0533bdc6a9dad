"""Typed views of the custom resources the operator serves (operator layer).

The CRDs in ``deploy/crds/`` are the admission-time contract; these pydantic models are the
reconcile-time one: they check what a structural schema cannot (Go duration syntax, a
``generic`` block for ``metricType: generic``, a database the scraper can reach) and give the
render functions typed fields instead of raw dicts. A failed check becomes a
:class:`~focusflow.errors.ConfigError` naming kind, name and field.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from focusflow.errors import ConfigError

_M = TypeVar("_M", bound=BaseModel)

# Go's time.ParseDuration syntax, e.g. 30s, 1h, 1h30m, 1.5h (Krateo's pollingInterval).
_GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def go_duration_seconds(text: str) -> float:
    """Seconds in a Go duration string; raises ``ValueError`` on anything else or on <= 0."""
    if not _GO_DURATION.match(text):
        raise ValueError(f"{text!r} is not a Go duration such as 30s, 5m, 1h or 1h30m")
    seconds = sum(float(num) * _UNIT_SECONDS[unit] for num, unit in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


class _Model(BaseModel):
    # Unknown fields are tolerated: the CRD schema already pruned or rejected them.
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class ObjectRef(_Model):
    name: str = Field(min_length=1)
    namespace: str | None = None


class SecretKeyRef(_Model):
    name: str = Field(min_length=1)
    key: str = Field(min_length=1)
    namespace: str | None = None


class NamedSecretRef(_Model):
    name: str = Field(min_length=1)


class Api(_Model):
    path: str | None = None
    verb: str | None = None
    headers: list[str] = []
    payload: str | None = None
    endpoint_ref: ObjectRef | None = Field(default=None, alias="endpointRef")


class Generic(_Model):
    metric_name: str = Field(alias="metricName", min_length=1)
    value_column_index: int = Field(alias="valueColumnIndex", ge=0)


def _check_duration(value: str) -> str:
    go_duration_seconds(value)
    return value


class ExporterConfig(_Model):
    api: Api = Api()
    metric_type: str = Field(default="cost", alias="metricType")
    generic: Generic | None = None
    polling_interval: str = Field(alias="pollingInterval")
    additional_variables: dict[str, str] = Field(default={}, alias="additionalVariables")

    _duration = field_validator("polling_interval")(_check_duration)

    @field_validator("metric_type")
    @classmethod
    def _metric_type(cls, value: str) -> str:
        if value.lower() not in {"cost", "resource", "generic"}:
            raise ValueError(f"{value!r} is not one of cost, resource, generic")
        return value.lower()

    @model_validator(mode="after")
    def _generic_block(self) -> Self:
        # Krateo panics later in the pod (R12); refuse it here with a status condition.
        if self.metric_type == "generic" and self.generic is None:
            raise ValueError("metricType generic needs generic.metricName and "
                             "generic.valueColumnIndex")
        return self


class ScraperSpec(_Model):
    """``ScraperConfig.spec`` (flat) and ``ExporterScraperConfig.spec.scraperConfig``."""

    table_name: str = Field(alias="tableName", min_length=1)
    polling_interval: str = Field(alias="pollingInterval")
    metric_type: str = Field(default="cost", alias="metricType")
    api: Api | None = None
    generic: Generic | None = None
    database_ref: ObjectRef = Field(alias="scraperDatabaseConfigRef")
    exporter_url: str | None = Field(default=None, alias="exporterUrl")

    _duration = field_validator("polling_interval")(_check_duration)


class ExporterScraperSpec(_Model):
    exporter_config: ExporterConfig = Field(alias="exporterConfig")
    scraper_config: ScraperSpec | None = Field(default=None, alias="scraperConfig")


class DatabaseSpec(_Model):
    """Krateo's credentials plus focusflow's connection extensions."""

    type: Literal["postgres", "duckdb", "delta", "databricks"] | None = None
    username: str | None = None
    password_secret_ref: SecretKeyRef | None = Field(default=None, alias="passwordSecretRef")
    token_secret_ref: SecretKeyRef | None = Field(default=None, alias="tokenSecretRef")
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    database: str | None = None
    uri: str | None = None
    ssl_mode: str | None = Field(default=None, alias="sslMode")


class PrometheusAuth(_Model):
    token_secret_ref: SecretKeyRef | None = Field(default=None, alias="tokenSecretRef")
    bearer_token_secret_ref: SecretKeyRef | None = Field(
        default=None, alias="bearerTokenSecretRef")
    basic_auth_secret_ref: NamedSecretRef | None = Field(default=None, alias="basicAuthSecretRef")


class AwsCredentials(_Model):
    name: str = Field(min_length=1)
    access_key_id_key: str = Field(default="AWS_ACCESS_KEY_ID", alias="accessKeyIdKey")
    secret_access_key_key: str = Field(
        default="AWS_SECRET_ACCESS_KEY", alias="secretAccessKeyKey")


class PrometheusExportSpec(_Model):
    cluster_name: str = Field(alias="clusterName", min_length=1)
    s3_bucket: str = Field(alias="s3Bucket", min_length=1)
    s3_prefix: str | None = Field(default=None, alias="s3Prefix")
    prometheus_url: str | None = Field(default=None, alias="prometheusUrl")
    scheme: Literal["http", "https"] | None = None
    hostname: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    path_prefix: str | None = Field(default=None, alias="pathPrefix")
    time_frame: int | None = Field(default=None, alias="timeFrame", ge=60)
    # BACKFILL_DAYS as Finout writes it ("3d") or a plain integer, as the job takes it.
    backfill_days: int | str | None = Field(default=None, alias="backfillDays")
    initial_backfill_date: str | None = Field(default=None, alias="initialBackfillDate")
    retention_days: int | None = Field(default=None, alias="retentionDays", ge=0)
    query_delay_seconds: float | None = Field(default=None, alias="queryDelaySeconds", ge=0)
    metrics: list[str] = []
    role_arn: str | None = Field(default=None, alias="roleArn")
    role_external_id: str | None = Field(default=None, alias="roleExternalId")
    x_scope_org_id: str | None = Field(default=None, alias="xScopeOrgId")
    schedule: str = "0 * * * *"
    suspend: bool = False
    auth: PrometheusAuth = PrometheusAuth()
    ca_secret_ref: SecretKeyRef | None = Field(default=None, alias="caSecretRef")
    insecure: bool = False
    aws_endpoint_url: str | None = Field(default=None, alias="awsEndpointUrl")
    aws_credentials_secret_ref: AwsCredentials | None = Field(
        default=None, alias="awsCredentialsSecretRef")
    service_account_name: str | None = Field(default=None, alias="serviceAccountName")


def parse_spec(model: type[_M], body: dict[str, Any]) -> _M:
    """Validate ``body['spec']`` into ``model``; errors name kind, namespace/name and field."""
    kind = body.get("kind", "object")
    meta = body.get("metadata") or {}
    where = f"{kind} {meta.get('namespace', '')}/{meta.get('name', '?')}".replace(" /", " ")
    try:
        return model.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in ("spec", *first["loc"]))
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: field {field}: {message}") from None

