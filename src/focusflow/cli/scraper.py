"""``focusflow scraper``: pull an exporter's snapshots into the database a DatabaseConfig names."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from focusflow.cli.app import app, setup_logging
from focusflow.cli.exporter import (
    LogJsonOption,
    LogLevelOption,
    RowsTokenFileOption,
    RowsTokenOption,
    SecretsDirOption,
)
from focusflow.errors import ConfigError, SourceError
from focusflow.focus import display_name
from focusflow.runtime import HttpServer, endpoint_resolver, secret_store_for
from focusflow.runtime.lifecycle import stop_on_signals
from focusflow.runtime.tokens import token_source
from focusflow.scraper import Scraper, ScraperFile, database_url, load_scraper_file


def scraper_source_id(file: ScraperFile) -> str:
    """The load identity: explicit ``sourceId``, else the ScraperConfig's name, else the URL."""
    if file.scraper.source_id:
        return file.scraper.source_id
    if file.metadata.name:
        return f"scraper:{file.metadata.namespace}/{file.metadata.name}"
    if file.scraper.exporter_url:
        return display_name(file.scraper.exporter_url)
    ref = file.scraper.api.endpoint_ref
    return f"exporter:{ref.namespace}/{ref.name}" if ref else "exporter"


@app.command("scraper")
def scraper_command(
    config: Annotated[Path, typer.Option(
        "--config", help="YAML with a ScraperConfig (or its spec) and the DatabaseConfig it "
        "references (multi-document).")],
    secrets_dir: SecretsDirOption = None,
    listen: Annotated[str, typer.Option(help="HOST:PORT for /healthz, /readyz, /metrics.")] = (
        "0.0.0.0:8080"),
    database_url_default: Annotated[str | None, typer.Option(
        "--database-url", envvar="FOCUSFLOW_DATABASE_URL",
        help="Database for a DatabaseConfig with only Krateo's fields (username/password).",
    )] = None,
    once: Annotated[bool, typer.Option(
        help="Scrape until one cycle succeeds, then exit (no server).")] = False,
    log_level: LogLevelOption = "INFO",
    log_json: LogJsonOption = False,
    rows_token: RowsTokenOption = None,
    rows_token_file: RowsTokenFileOption = None,
) -> None:
    """Every pollingInterval, load the exporter's changed snapshot (retries with backoff)."""
    setup_logging(log_level, log_json)
    file = load_scraper_file(config)
    if file.scraper.exporter_url is None and file.scraper.api.endpoint_ref is None:
        raise ConfigError(f"{config}: ScraperConfig api.endpointRef (a Secret with the "
                          "exporter's server-url) or exporterUrl is required")
    store = secret_store_for(secrets_dir)
    namespace = file.database_metadata.namespace

    def database() -> SecretStr:
        return database_url(file.database, store, database_url_default, namespace)

    try:
        database()  # fail at start on a config error
    except SourceError as exc:  # an unreachable Secret is retried by the loop (R17)
        logging.getLogger(__name__).warning("database credentials not readable yet: %s", exc)
    scraper = Scraper(file.scraper, endpoint_resolver(secrets_dir), database,
                      scraper_source_id(file),
                      rows_token=token_source(rows_token, rows_token_file))
    stop = stop_on_signals()
    if once:
        raise typer.Exit(0 if scraper.run(stop, once=True) else 1)
    server = HttpServer(listen, scraper.routes()).start()
    try:
        scraper.run(stop)
    finally:
        server.stop()
