"""The scraper's configuration: Krateo ``ScraperConfig`` and ``DatabaseConfig`` models.

Layer: ``scraper``. These models are public: the operator validates CRs with them.

``ScraperConfig`` is the flat spec of Krateo's ScraperConfig CR (reference §2.2): ``tableName``
and ``pollingInterval`` (Go duration) are required, ``api`` says where the exporter is
(``endpointRef`` → a Secret with ``server-url``), ``scraperDatabaseConfigRef`` names the
DatabaseConfig. Krateo's rendered ``config.yaml`` form (``databaseConfigRef`` + ``exporter:
{api, pollingInterval, tableName, metricType}``) is accepted too. focusflow extensions:
``exporterUrl`` (the exporter's base URL, instead of an endpoint Secret) and ``sourceId`` (the
load identity; default ``scraper:<namespace>/<name>`` or the exporter URL).

``DatabaseConfig`` keeps Krateo's fields (``username``, ``passwordSecretRef {name, namespace,
key}``) and adds ``type`` (postgres | duckdb | delta | databricks), ``host``, ``port``,
``database``, ``uri``, ``sslMode``, ``tokenSecretRef {name, key}``. A DatabaseConfig with only
Krateo's fields uses the database the scraper is given by ``--database-url`` /
``FOCUSFLOW_DATABASE_URL`` (with its ``username``/password filled into a PostgreSQL URL that
has none). ``database_url`` maps a DatabaseConfig to the URL ``focusflow.sinks.open_sink`` takes.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote as urlquote
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import BeforeValidator, Field, SecretStr, field_validator

from focusflow.errors import ConfigError
from focusflow.exporter.config import (
    MIN_POLLING_SECONDS,
    Duration,
    GenericConfig,
    MetricType,
    read_yaml,
)
from focusflow.sinks import TableName
from focusflow.sources import ApiConfig, KrateoModel, ObjectRef, SecretStore


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class Metadata(KrateoModel):
    name: str = ""
    namespace: str = "default"


class ScraperConfig(KrateoModel):
    """Spec of a ScraperConfig (Krateo-compatible, with focusflow extensions)."""

    table_name: TableName
    polling_interval: Duration
    metric_type: Annotated[MetricType, BeforeValidator(_lower)] = MetricType.COST
    api: ApiConfig = Field(default_factory=lambda: ApiConfig(path="/metrics"))
    scraper_database_config_ref: ObjectRef | None = None
    generic: GenericConfig | None = None
    exporter_url: str | None = None
    source_id: str | None = None

    @field_validator("polling_interval")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value < MIN_POLLING_SECONDS:
            raise ValueError(f"must be at least {MIN_POLLING_SECONDS:g}s (R11: no hot loops)")
        return value


class DatabaseType(StrEnum):
    POSTGRES = "postgres"
    DUCKDB = "duckdb"
    DELTA = "delta"
    DATABRICKS = "databricks"


class SecretKeyRef(KrateoModel):
    name: str = Field(min_length=1)
    namespace: str | None = None
    key: str = Field(min_length=1)


class DatabaseConfig(KrateoModel):
    """Spec of a DatabaseConfig: Krateo's credentials plus where the database is."""

    username: str | None = None
    password_secret_ref: SecretKeyRef | None = None
    type: Annotated[DatabaseType | None, BeforeValidator(_lower)] = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    database: str | None = None
    uri: str | None = None
    ssl_mode: str | None = None
    token_secret_ref: SecretKeyRef | None = None

    @property
    def krateo_only(self) -> bool:
        return self.type is None and self.uri is None and self.host is None


class ScraperFile(KrateoModel):
    """What ``load_scraper_file`` found: the scraper spec, its metadata and the database."""

    scraper: ScraperConfig
    metadata: Metadata = Field(default_factory=Metadata)
    database: DatabaseConfig | None = None
    database_metadata: Metadata = Field(default_factory=Metadata)


def _key(data: dict[str, Any], name: str) -> Any:
    for key, value in data.items():
        if str(key).lower() == name.lower():
            return value
    return None


def _scraper_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = _key(doc, "spec") if isinstance(_key(doc, "spec"), dict) else doc
    inner = _key(spec, "scraperConfig")
    if isinstance(inner, dict):  # an ExporterScraperConfig: its scraperConfig part
        spec = inner
    exporter = _key(spec, "exporter")
    if isinstance(exporter, dict) and _key(spec, "tableName") is None:
        # Krateo's rendered config.yaml (§6.3): databaseConfigRef + exporter{...}
        spec = {**exporter, "scraperDatabaseConfigRef": _key(spec, "databaseConfigRef")}
    ref = _key(spec, "databaseConfigRef")
    if ref is not None and _key(spec, "scraperDatabaseConfigRef") is None:
        spec = {**spec, "scraperDatabaseConfigRef": ref}
    return spec


def load_scraper_file(path: Path) -> ScraperFile:
    """Parse a multi-document YAML holding a ScraperConfig (or its spec) and DatabaseConfig(s)."""
    scraper: tuple[dict[str, Any], Any] | None = None
    databases: list[tuple[dict[str, Any], Any]] = []
    for doc in read_yaml(path):
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: every YAML document must be a mapping")
        kind = str(_key(doc, "kind") or "")
        if kind == "DatabaseConfig":
            databases.append((_key(doc, "spec") or {}, _key(doc, "metadata") or {}))
        elif kind in ("", "ScraperConfig", "ExporterScraperConfig") and scraper is None:
            scraper = (_scraper_spec(doc), _key(doc, "metadata") or {})
    if scraper is None:
        raise ConfigError(f"{path}: no ScraperConfig document")
    spec = ScraperConfig.parse(scraper[0], where=f"{path} ScraperConfig")
    metadata = Metadata.parse(scraper[1], where=f"{path} ScraperConfig metadata")
    chosen = _pick_database(spec, databases, path)
    database = DatabaseConfig.parse(chosen[0], where=f"{path} DatabaseConfig") if chosen else None
    db_meta = Metadata.parse(chosen[1], where=f"{path} DatabaseConfig metadata") if chosen \
        else Metadata()
    return ScraperFile(scraper=spec, metadata=metadata, database=database,
                       database_metadata=db_meta)


def _pick_database(
    spec: ScraperConfig, databases: list[tuple[dict[str, Any], Any]], path: Path
) -> tuple[dict[str, Any], Any] | None:
    ref = spec.scraper_database_config_ref
    if ref is not None:
        for doc in databases:
            if isinstance(doc[1], dict) and doc[1].get("name") == ref.name:
                return doc
    if len(databases) == 1:
        return databases[0]
    if len(databases) > 1:
        wanted = ref.name if ref else "(no scraperDatabaseConfigRef)"
        raise ConfigError(f"{path}: several DatabaseConfigs and none named {wanted}")
    return None


def _secret(store: SecretStore | None, ref: SecretKeyRef, namespace: str, what: str) -> str:
    if store is None:
        raise ConfigError(f"DatabaseConfig {what} {ref.name}/{ref.key}: no secret store "
                          "(pass --secrets-dir or run in Kubernetes)")
    values = store.get(ref.namespace or namespace, ref.name)
    if ref.key not in values:
        raise ConfigError(f"DatabaseConfig {what}: secret {ref.namespace or namespace}/"
                          f"{ref.name} has no key {ref.key!r}")
    return values[ref.key].get_secret_value()


def database_url(
    database: DatabaseConfig | None, store: SecretStore | None, default_url: str | None,
    namespace: str = "default",
) -> SecretStr:
    """The sink URL for ``database`` (a ``SecretStr``: it may carry a password)."""
    if database is None or database.krateo_only:
        if not default_url:
            raise ConfigError("the DatabaseConfig names no database (type/host/uri): pass "
                              "--database-url or set FOCUSFLOW_DATABASE_URL")
        if database is not None and default_url.startswith(("postgres://", "postgresql://")):
            return SecretStr(_with_credentials(default_url, database, store, namespace))
        return SecretStr(default_url)
    kind = database.type or _infer_type(database)
    if kind is DatabaseType.DUCKDB:
        uri = database.uri or database.database
        if not uri:
            raise ConfigError("DatabaseConfig type duckdb: set uri (a file path)")
        return SecretStr(uri if uri.startswith("duckdb://") else f"duckdb:///{uri}")
    if kind is DatabaseType.DELTA:
        if not database.uri:
            raise ConfigError("DatabaseConfig type delta: set uri (a path or s3://bucket/prefix)")
        uri = database.uri
        return SecretStr(uri if uri.startswith("delta") else (
            f"delta+{uri}" if "://" in uri else f"delta:///{Path(uri).resolve()}"))
    if kind is DatabaseType.DATABRICKS:
        if not database.uri:
            raise ConfigError("DatabaseConfig type databricks: set uri (the sink URL)")
        return SecretStr(database.uri)
    return SecretStr(_postgres_url(database, store, namespace))


def _infer_type(database: DatabaseConfig) -> DatabaseType:
    scheme = urlsplit(database.uri or "").scheme
    if scheme.startswith("delta"):
        return DatabaseType.DELTA
    if scheme == "duckdb":
        return DatabaseType.DUCKDB
    return DatabaseType.POSTGRES


def _postgres_url(database: DatabaseConfig, store: SecretStore | None, namespace: str) -> str:
    if database.uri:
        return _with_credentials(database.uri, database, store, namespace)
    if not database.host:
        raise ConfigError("DatabaseConfig type postgres: set host (or uri)")
    query = urlencode({"sslmode": database.ssl_mode}) if database.ssl_mode else ""
    netloc = database.host + (f":{database.port}" if database.port else "")
    url = urlunsplit(("postgresql", netloc, "/" + (database.database or "postgres"), query, ""))
    return _with_credentials(url, database, store, namespace)


def _with_credentials(
    url: str, database: DatabaseConfig, store: SecretStore | None, namespace: str
) -> str:
    parts = urlsplit(url)
    if parts.username:  # the URL's own credentials win
        return url
    user = database.username or ""
    password = (_secret(store, database.password_secret_ref, namespace, "passwordSecretRef")
                if database.password_secret_ref else "")
    if not user:
        return url
    auth = urlquote(user, safe="") + (f":{urlquote(password, safe='')}" if password else "")
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{auth}@{host}", parts.path, parts.query, parts.fragment))
