"""``focusflow exporter``: serve a Krateo ExporterScraperConfig's source as metrics and rows."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from focusflow.cli.app import app, setup_logging
from focusflow.exporter import Exporter, build_source, load_exporter_config
from focusflow.runtime import HttpServer, endpoint_resolver
from focusflow.runtime.lifecycle import stop_on_signals
from focusflow.runtime.tokens import token_source

ConfigOption = Annotated[Path, typer.Option(
    "--config", help="ExporterScraperConfig YAML: the whole CR, its spec, or exporterConfig.")]
SecretsDirOption = Annotated[Path | None, typer.Option(
    "--secrets-dir", help="Secrets as files DIR/<namespace>/<name>/<key> (default: the "
    "Kubernetes API when in a pod).")]
LogLevelOption = Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR.")]
LogJsonOption = Annotated[bool, typer.Option("--log-json", help="Log as JSON lines.")]
RowsTokenOption = Annotated[str | None, typer.Option(
    "--rows-token", envvar="FOCUSFLOW_ROWS_TOKEN", show_default=False,
    help="Bearer token /rows requires (exporter) or sends (scraper); prefer the env var.")]
RowsTokenFileOption = Annotated[Path | None, typer.Option(
    "--rows-token-file", envvar="FOCUSFLOW_ROWS_TOKEN_FILE",
    help="File holding the /rows token, read at every use (a mounted Secret key).")]


@app.command("exporter")
def exporter_command(
    config: ConfigOption,
    secrets_dir: SecretsDirOption = None,
    listen: Annotated[str, typer.Option(help="HOST:PORT to serve /metrics, /rows, /healthz, "
                                        "/readyz on.")] = "0.0.0.0:2112",
    once: Annotated[bool, typer.Option(
        help="Poll once, serve nothing, exit non-zero if the poll failed (for checks).")] = False,
    log_level: LogLevelOption = "INFO",
    log_json: LogJsonOption = False,
    rows_token: RowsTokenOption = None,
    rows_token_file: RowsTokenFileOption = None,
) -> None:
    """Poll the source every pollingInterval and serve it Krateo-compatibly."""
    setup_logging(log_level, log_json)
    token = token_source(rows_token, rows_token_file)
    settings = load_exporter_config(config)
    resolver = endpoint_resolver(secrets_dir)
    if settings.source is None and settings.api is not None and settings.api.endpoint_ref is None:
        resolver(None)  # outside Kubernetes there is no default endpoint: fail now, not per poll
    source = build_source(settings, resolver, config.parent)
    exporter = Exporter(settings, source, rows_token=token)
    stop = stop_on_signals()
    if once:
        raise typer.Exit(0 if exporter.poll_once() else 1)
    if token is None:
        logging.getLogger(__name__).warning(
            "/rows is open to anyone who reaches %s: set --rows-token or FOCUSFLOW_ROWS_TOKEN",
            listen)
    server = HttpServer(listen, exporter.routes()).start()
    try:
        exporter.run(stop)
    finally:
        server.stop()
