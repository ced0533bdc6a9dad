"""``focusflow plot``: daily cost over time from a loaded table, as a PNG chart and a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from focusflow.cli.app import LogJson, LogLevel, app, console, setup_logging
from focusflow.reports import daily_cost, plot_cost
from focusflow.sinks import DEFAULT_DB_URL, database_location, open_sink


@app.command("plot")
def plot_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")] = Path(
        "focusflow-cost.png"),
    db: Annotated[str, typer.Option("--db", envvar="FOCUSFLOW_DB",
                                    help="Database URL.")] = DEFAULT_DB_URL,
    table: Annotated[str, typer.Option(help="Table, [schema.]name.")] = "focus",
    by: Annotated[str, typer.Option(help="Column to split cost by.")] = "ServiceName",
    measure: Annotated[str, typer.Option(help="Cost column to sum.")] = "EffectiveCost",
    top: Annotated[int, typer.Option(help="Values with their own series.")] = 8,
    log_level: LogLevel = "INFO",
    log_json: LogJson = False,
) -> None:
    """Chart daily cost split by a column (one PNG per billing currency)."""
    setup_logging(log_level, log_json)
    sink = open_sink(db, read_only=True)
    try:
        all_series = daily_cost(sink, table, by=by, measure=measure, top=top)
    finally:
        sink.close()
    for series in all_series:
        path = out if len(all_series) == 1 else out.with_stem(f"{out.stem}-{series.currency}")
        plot_cost(series, path)
        summary = Table(title=f"{measure} by {by} ({series.currency}), {len(series.days)} days")
        summary.add_column(by)
        summary.add_column("total", justify="right")
        for name, values in series.series.items():
            summary.add_row(name, f"{sum(values):,.2f}")
        console.print(summary)
        console.print(f"chart written to [bold]{path}[/] from {database_location(db)}")
