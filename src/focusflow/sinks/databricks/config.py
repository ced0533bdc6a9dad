"""Databricks sink configuration: the SQL warehouse to register tables with, and where they live.

Layer: sinks. Parsed once from ``databricks://<host>[:port]/<http_path>?catalog=..&schema=..
&location=s3://bucket/prefix`` plus ``DATABRICKS_*`` environment variables. The token is a
``SecretStr`` read from ``DATABRICKS_TOKEN`` or from the file ``DATABRICKS_TOKEN_FILE`` names (a
mounted Kubernetes secret); a URL that carries credentials is refused, so the token never sits
in a URL, a log line or a ConfigMap. Catalog and schema are validated identifiers; the location
is a validated storage URI because Databricks SQL cannot bind it as a parameter (DDL).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from focusflow.errors import ConfigError

URL_FORM = (
    "databricks://<host>[:port]/<http_path>?catalog=<catalog>&schema=<schema>"
    "&location=s3://bucket/prefix (token from DATABRICKS_TOKEN or DATABRICKS_TOKEN_FILE)"
)
# Unity Catalog names: letters, digits, underscores (hyphens allowed when quoted); we quote
_IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,254}")
# Storage URIs Databricks can read Delta from; no quotes, backslashes, spaces or control chars
_LOCATION = re.compile(r"(s3|s3a|abfss|gs|file)://[A-Za-z0-9._~/@:+=%-]*")


class DatabricksSettings(BaseSettings):
    """Where the SQL warehouse is, how to authenticate, and where focusflow writes Delta."""

    model_config = SettingsConfigDict(
        env_prefix="DATABRICKS_", extra="ignore", populate_by_name=True
    )

    host: str
    http_path: str
    token: SecretStr | None = None
    token_file: Path | None = None
    catalog: str
    # an alias escapes env_prefix, so it spells the full variable name (not a bare "schema")
    schema_name: str = Field(validation_alias="DATABRICKS_SCHEMA")
    location: str
    port: int = 443
    # A private CA bundle (TLS-inspecting proxy, test server); verification is never turned off
    ca_file: Path | None = None
    timeout_seconds: float = 120.0

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        host = value.removeprefix("https://").rstrip("/")
        if not host or "/" in host or "@" in host:
            raise ValueError("expected a host name such as dbc-1234.cloud.databricks.com")
        return host

    @field_validator("http_path")
    @classmethod
    def _http_path(cls, value: str) -> str:
        if not value.strip("/"):
            raise ValueError("expected the warehouse HTTP path, e.g. /sql/1.0/warehouses/abc")
        return "/" + value.lstrip("/")

    @field_validator("catalog", "schema_name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.fullmatch(value):
            raise ValueError("expected letters, digits, underscores or hyphens (max 255)")
        return value

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        if not _LOCATION.fullmatch(value):
            raise ValueError("expected s3://bucket/prefix (or abfss://, gs://, file://) "
                             "without quotes, spaces or backslashes")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _needs_token(self) -> DatabricksSettings:
        if self.token is None and self.token_file is None:
            raise ValueError("set DATABRICKS_TOKEN or DATABRICKS_TOKEN_FILE")
        return self

    def access_token(self) -> str:
        """The token, read from the secret file when one is configured."""
        if self.token_file is not None:
            try:
                return self.token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"DATABRICKS_TOKEN_FILE {self.token_file}: {exc}") from exc
        assert self.token is not None  # noqa: S101 - guaranteed by _needs_token
        return self.token.get_secret_value()


def parse_databricks_url(url: str) -> DatabricksSettings:
    """Settings from a ``databricks://`` URL, environment variables filling what it omits."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "databricks":
        raise ConfigError(f"{url}: expected {URL_FORM}")
    if parts.username or parts.password:
        # never echo the URL: it holds the credential we refuse
        raise ConfigError("databricks:// URL must not carry a token or password; "
                          "set DATABRICKS_TOKEN or DATABRICKS_TOKEN_FILE instead")
    given: dict[str, object] = {}
    if parts.hostname:
        given["host"] = parts.hostname
    if parts.port:
        given["port"] = parts.port
    if parts.path.strip("/"):
        given["http_path"] = unquote(parts.path)
    for key, values in parse_qs(parts.query).items():
        if key not in ("catalog", "schema", "location"):
            raise ConfigError(f"{url}: unknown parameter {key!r}; expected {URL_FORM}")
        given["schema_name" if key == "schema" else key] = values[-1]
    try:
        return DatabricksSettings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"databricks sink settings invalid: {problems} ({URL_FORM})") from exc


def quote_identifier(name: str) -> str:
    """A backtick-quoted Databricks identifier (validated first)."""
    if not _IDENTIFIER.fullmatch(name):
        raise ConfigError(f"invalid Databricks identifier {name!r}")
    return f"`{name}`"


def location_literal(uri: str) -> str:
    """A SQL string literal for a validated storage URI (it cannot hold a quote)."""
    if not _LOCATION.fullmatch(uri):
        raise ConfigError(f"invalid Delta location {uri!r}")
    return f"'{uri}'"
