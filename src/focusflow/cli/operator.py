"""``focusflow operator`` (run the kopf operator) and ``focusflow operator render`` (dry run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from focusflow.cli.app import app, console, setup_logging
from focusflow.errors import ConfigError, MissingExtraError
from focusflow.operator import OperatorSettings, render_files

operator_app = typer.Typer(
    help="The Kubernetes operator: serves ExporterScraperConfig, ScraperConfig, "
         "DatabaseConfig (finops.krateo.io/v1) and PrometheusExport (focusflow.dev/v1alpha1). "
         "Without a command it runs, against the in-cluster service account or the current "
         "kubeconfig context; `render` prints what it would apply.",
    no_args_is_help=False,
)
app.add_typer(operator_app, name="operator")


def _settings(**overrides: object) -> OperatorSettings:
    values = {k: v for k, v in overrides.items() if v not in (None, [], ())}
    try:
        return OperatorSettings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"operator setting {field}: {first['msg']}") from None


ImageOption = Annotated[str | None, typer.Option(
    help="Image the children run (env FOCUSFLOW_OPERATOR_IMAGE); needs a tag or digest.")]
DatabaseOption = Annotated[str | None, typer.Option(
    help="Secret (key `url`) with the database for DatabaseConfigs without `type` "
         "(env FOCUSFLOW_OPERATOR_DATABASE_SECRET).")]


@operator_app.callback(invoke_without_command=True)
def operator_command(
    ctx: typer.Context,
    namespace: Annotated[list[str] | None, typer.Option(
        "--namespace", "-n", help="Serve only this namespace (repeatable); default: all.")] = None,
    image: ImageOption = None,
    database_secret: DatabaseOption = None,
    liveness: Annotated[str | None, typer.Option(
        help="Liveness endpoint, e.g. http://0.0.0.0:8080/healthz.")] = None,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "INFO",
) -> None:
    """Run the operator against the cluster of the in-cluster service account or kubeconfig."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(namespaces=namespace, image=image, database_secret=database_secret)
    setup_logging(log_level)
    try:
        from focusflow.operator.handlers import run_operator  # noqa: PLC0415  (k8s extra)
    except ImportError as exc:
        raise MissingExtraError("kopf", "k8s") from exc
    run_operator(settings, liveness=liveness)


@operator_app.command("render")
def render_command(
    filename: Annotated[list[Path], typer.Option(
        "--filename", "-f", help="YAML file (or directory of them) with CRs, "
                                 "DatabaseConfigs, Secrets; repeatable.")],
    namespace: Annotated[str, typer.Option(
        "--namespace", "-n", help="Namespace for documents without one.")] = "default",
    image: ImageOption = None,
    database_secret: DatabaseOption = None,
) -> None:
    """Print every object the operator would create for FILEs (Secret values redacted)."""
    settings = _settings(image=image, database_secret=database_secret)
    notes: list[str] = []
    text = render_files(filename, settings, default_namespace=namespace, notes=notes)
    console.out(text, end="", highlight=False)
    for note in notes:
        typer.echo(f"note: {note}", err=True)
