"""``focusflow rules``: fetch and inspect the FOCUS requirements model the validator runs.

CLI layer. ``rules fetch`` downloads the model from the ``focus-validator`` package on PyPI into
the user cache (no install); ``rules list`` shows cached models; ``rules criteria`` the
applicability criteria a model defines; ``rules overrides`` the model defects focusflow corrects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from focusflow.cli.app import app, console
from focusflow.errors import ConfigError
from focusflow.focus.validation import (
    OVERRIDES,
    RulesSettings,
    cached_models,
    fetch_model,
    find_cached_model,
    how_to_get_model,
    load_model,
)

rules_app = typer.Typer(help="The FOCUS requirements model: fetch, list, criteria, overrides.",
                        no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("fetch")
def fetch_command(
    version: Annotated[str | None, typer.Option(
        "--version", help="FOCUS version of the model (default: the newest published).")] = None,
) -> None:
    """Download the requirements model from the focus-validator package on PyPI into the cache."""
    path, model = fetch_model(version)
    console.print(f"FOCUS {model.focus_version} requirements model {model.model_version} "
                  f"({len(model.rules)} rules) stored in {path}", highlight=False)


@rules_app.command("list")
def list_command() -> None:
    """Requirements models in the cache."""
    settings = RulesSettings()
    models = cached_models(settings)
    if not models:
        console.print(f"no models cached in {settings.cache_dir}; run 'focusflow rules fetch'",
                      highlight=False)
        return
    table = Table()
    for name in ("FOCUS", "model", "rules", "file"):
        table.add_column(name)
    for path, model in models:
        table.add_row(model.focus_version, model.model_version, str(len(model.rules)), str(path))
    console.print(table)


@rules_app.command("criteria")
def criteria_command(
    version: Annotated[str, typer.Option("--version", help="FOCUS version.")] = "1.2",
    rules: Annotated[Path | None, typer.Option(help="A model file instead of the cache.")] = None,
) -> None:
    """Applicability criteria (for 'validate --applicable') and what each means."""
    if rules is not None:
        model = load_model(rules)
    else:
        cached = find_cached_model(version)
        if cached is None:
            raise ConfigError(f"no FOCUS {version} requirements model cached: "
                              f"{how_to_get_model(version)}")
        model = cached[1]
    table = Table(title=f"Applicability criteria of model {model.model_version}")
    table.add_column("criterion")
    table.add_column("description")
    for name, criterion in sorted(model.applicability_criteria.items()):
        table.add_row(name, criterion.description)
    console.print(table)


@rules_app.command("overrides")
def overrides_command() -> None:
    """Known defects of the published model and what focusflow does instead."""
    table = Table(title="Model defects corrected by focusflow", show_lines=True)
    for name in ("rule", "action", "reason"):
        table.add_column(name, overflow="fold")
    for override in OVERRIDES.values():
        table.add_row(override.rule_id, override.action.value, override.reason)
    console.print(table)
