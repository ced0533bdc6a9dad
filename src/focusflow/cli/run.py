"""``focusflow run PIPELINE.yaml``: exporters and scrapers of a pipeline file in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from focusflow.cli.app import app, setup_logging
from focusflow.cli.exporter import LogJsonOption, LogLevelOption
from focusflow.runtime.lifecycle import stop_on_signals
from focusflow.scraper.pipeline import Pipeline, load_pipeline


@app.command("run")
def run_command(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline YAML (kind: Pipeline).")],
    once: Annotated[bool, typer.Option(
        help="Poll each source once, scrape it into the database, exit.")] = False,
    listen: Annotated[str | None, typer.Option(
        help="HOST:PORT overriding the file's listen address.")] = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="FOCUSFLOW_DATABASE_URL",
        help="Database when the file names none.")] = None,
    log_level: LogLevelOption = "INFO",
    log_json: LogJsonOption = False,
) -> None:
    """Serve every source (Krateo-compatible) and scrape it into the database."""
    setup_logging(log_level, log_json)
    runner = Pipeline(load_pipeline(pipeline), pipeline.parent, database_url, listen)
    if once:
        raise typer.Exit(0 if runner.run_once() else 1)
    runner.run(stop_on_signals())
