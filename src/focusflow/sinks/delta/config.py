"""Delta sink configuration: where the tables live and how delta-rs reaches object storage.

Layer: sinks. A ``DeltaLocation`` is parsed once from a sink URL (``delta+file:///abs/path``,
``delta:///abs/path`` or ``delta+s3://bucket/prefix``); each table is a folder under its root.
S3 credentials and endpoint come from the standard ``AWS_*`` environment variables through a
typed settings model and reach delta-rs as ``storage_options``; secrets stay ``SecretStr`` so a
repr or log line never shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from focusflow.errors import ConfigError
from focusflow.sinks.identifiers import validate_table_name

URL_FORMS = "delta+file:///abs/path, delta:///abs/path or delta+s3://bucket/prefix"


class S3Settings(BaseSettings):
    """The standard AWS variables delta-rs needs for ``s3://`` tables (all optional)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    )
    access_key_id: str | None = Field(default=None, validation_alias="AWS_ACCESS_KEY_ID")
    secret_access_key: SecretStr | None = Field(
        default=None, validation_alias="AWS_SECRET_ACCESS_KEY"
    )
    session_token: SecretStr | None = Field(default=None, validation_alias="AWS_SESSION_TOKEN")
    region: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    allow_http: bool | None = Field(default=None, validation_alias="AWS_ALLOW_HTTP")

    def storage_options(self) -> dict[str, str]:
        """delta-rs ``storage_options``; unset values are left to its default credential chain."""
        options: dict[str, str] = {}
        if self.endpoint_url:
            options["AWS_ENDPOINT_URL"] = self.endpoint_url
        if self.access_key_id:
            options["AWS_ACCESS_KEY_ID"] = self.access_key_id
        if self.secret_access_key is not None:
            options["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key.get_secret_value()
        if self.session_token is not None:
            options["AWS_SESSION_TOKEN"] = self.session_token.get_secret_value()
        if self.region:
            options["AWS_REGION"] = self.region
        # object_store refuses plain-http endpoints (moto, MinIO on a LAN) unless told
        allow_http = self.allow_http
        if allow_http is None:
            allow_http = bool(self.endpoint_url and self.endpoint_url.startswith("http://"))
        if allow_http:
            options["AWS_ALLOW_HTTP"] = "true"
        return options


@dataclass(frozen=True)
class DeltaLocation:
    """The root folder (local path or ``s3://`` URI) under which each table is one Delta table."""

    root: str
    storage_options: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_local(self) -> bool:
        return "://" not in self.root

    def table_uri(self, table: str) -> str:
        """The Delta table URI of a validated ``[schema.]table`` name."""
        return self.child("/".join(validate_table_name(table)))

    def child(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"


def parse_delta_url(url: str, s3: S3Settings | None = None) -> DeltaLocation:
    """A ``DeltaLocation`` from a sink URL; ``ConfigError`` names the accepted forms."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("delta", "delta+file"):
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"{url}: a local Delta root needs an absolute path: {URL_FORMS}")
        path = unquote(parts.path)
        if not path.startswith("/") or path == "/":
            raise ConfigError(f"{url}: a local Delta root needs an absolute path: {URL_FORMS}")
        return DeltaLocation(path.rstrip("/"))
    if scheme == "delta+s3":
        if not parts.netloc:
            raise ConfigError(f"{url}: missing bucket: {URL_FORMS}")
        prefix = parts.path.strip("/")
        root = f"s3://{parts.netloc}/{prefix}" if prefix else f"s3://{parts.netloc}"
        return DeltaLocation(root, (s3 or S3Settings()).storage_options())
    raise ConfigError(f"{url}: unsupported Delta URL; expected {URL_FORMS}")


def location_from_uri(uri: str, s3: S3Settings | None = None) -> DeltaLocation:
    """A ``DeltaLocation`` from a plain storage URI (``s3://bucket/prefix`` or ``/abs/path``)."""
    if uri.startswith("s3://"):
        return parse_delta_url("delta+" + uri, s3)
    if uri.startswith("file://"):
        return parse_delta_url("delta+" + uri)
    if uri.startswith("/"):
        return parse_delta_url("delta+file://" + uri)
    raise ConfigError(f"{uri}: expected s3://bucket/prefix, file:///abs/path or /abs/path")
