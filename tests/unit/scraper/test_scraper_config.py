"""ScraperConfig/DatabaseConfig files and the DatabaseConfig → sink URL mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.krateo_examples import SCRAPER
from focusflow.errors import ConfigError
from focusflow.scraper import DatabaseConfig, database_url, load_scraper_file
from focusflow.sources import DirectorySecretStore

# What the operator mounts: Krateo's example ScraperConfig, then a DatabaseConfig with a target.
OPERATOR_FILE = SCRAPER + """---
apiVersion: finops.krateo.io/v1
kind: DatabaseConfig
metadata: {name: finops-database-handler, namespace: krateo-system}
spec:
  username: system
  passwordSecretRef: {name: pg-user, namespace: krateo-system, key: password}
  type: postgres
  host: db.example.test
  port: 5432
  database: finops
  sslMode: require
"""

KRATEO_RENDERED = """
databaseConfigRef: {name: finops-database-handler, namespace: krateo-system}
exporter:
  api: {path: /metrics, verb: GET, endpointref: {name: azure-focus, namespace: krateo-system}}
  pollingInterval: {duration: 1h0m0s}
  tableName: finops
  metricType: cost
"""


@pytest.fixture
def secrets(tmp_path: Path) -> DirectorySecretStore:
    folder = tmp_path / "secrets" / "krateo-system" / "pg-user"
    folder.mkdir(parents=True)
    (folder / "password").write_text("p@ss:w/rd")
    return DirectorySecretStore(tmp_path / "secrets")


def test_operator_file_maps_to_a_postgres_url(tmp_path: Path,
                                              secrets: DirectorySecretStore) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(OPERATOR_FILE)
    file = load_scraper_file(path)
    assert file.scraper.table_name == "finops" and file.scraper.polling_interval == 3600
    assert file.metadata.name == "azure-focus-scraper"
    url = database_url(file.database, secrets, None, file.database_metadata.namespace)
    assert url.get_secret_value() == (
        "postgresql://system:p%40ss%3Aw%2Frd@db.example.test:5432/finops?sslmode=require")
    assert "p@ss" not in str(url) and "p@ss" not in repr(file)


def test_krateo_rendered_scraper_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(KRATEO_RENDERED)
    file = load_scraper_file(path)
    assert file.scraper.table_name == "finops" and file.scraper.polling_interval == 3600
    assert file.scraper.api.endpoint_ref is not None
    assert file.scraper.scraper_database_config_ref is not None
    assert file.database is None


def test_krateo_only_database_uses_the_default_url(secrets: DirectorySecretStore) -> None:
    krateo = DatabaseConfig.model_validate({"username": "system", "passwordSecretRef": {
        "name": "pg-user", "namespace": "krateo-system", "key": "password"}})
    assert krateo.krateo_only
    url = database_url(krateo, secrets, "postgresql://db.test:5432/finops")
    assert url.get_secret_value() == "postgresql://system:p%40ss%3Aw%2Frd@db.test:5432/finops"
    assert database_url(krateo, secrets, "duckdb:///x.duckdb").get_secret_value() == \
        "duckdb:///x.duckdb"
    with pytest.raises(ConfigError, match="--database-url"):
        database_url(krateo, secrets, None)


@pytest.mark.parametrize(("spec", "url"), [
    ({"type": "duckdb", "uri": "demo/f.duckdb"}, "duckdb:///demo/f.duckdb"),
    ({"type": "delta", "uri": "s3://bucket/focus"}, "delta+s3://bucket/focus"),
    ({"type": "postgres", "uri": "postgresql://u@h/db"}, "postgresql://u@h/db"),
    ({"uri": "duckdb:///a.duckdb"}, "duckdb:///a.duckdb"),
])
def test_database_types(spec: dict[str, object], url: str) -> None:
    config = DatabaseConfig.model_validate(spec)
    assert database_url(config, None, None).get_secret_value() == url


def test_invalid_scraper_configs_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("kind: ScraperConfig\nspec: {tableName: 'bad name', pollingInterval: 1h}\n")
    with pytest.raises(ConfigError, match="tableName"):
        load_scraper_file(path)
    path.write_text("kind: ScraperConfig\nspec: {tableName: t}\n")
    with pytest.raises(ConfigError, match="pollingInterval"):
        load_scraper_file(path)
    path.write_text("kind: DatabaseConfig\nspec: {}\n")
    with pytest.raises(ConfigError, match="no ScraperConfig"):
        load_scraper_file(path)
