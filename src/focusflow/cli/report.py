"""``focusflow report``: one self-contained HTML cost report of a loaded table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from focusflow.cli.app import app, console, utc_moment
from focusflow.cli.files import atomic_write
from focusflow.errors import ConfigError
from focusflow.reports import build_report, choose_period, explicit_period, render
from focusflow.sinks import DEFAULT_DB_URL, database_location, open_sink, validate_table_name


@app.command("report")
def report_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path(
        "report.html"),
    db: Annotated[str, typer.Option("--db", envvar="FOCUSFLOW_DB",
                                    help="Database URL.")] = DEFAULT_DB_URL,
    table: Annotated[str, typer.Option(help="FOCUS table (name or schema.name).")] = "focus",
    allocation_table: Annotated[str | None, typer.Option(
        help="Table written by `focusflow allocate` (adds the Kubernetes section).")] = None,
    start: Annotated[str | None, typer.Option(
        help="Period start (ISO 8601, UTC); default: the last full month.")] = None,
    end: Annotated[str | None, typer.Option(help="Period end, exclusive (ISO 8601).")] = None,
    top: Annotated[int, typer.Option(min=1, help="Values with their own series.")] = 8,
    movers: Annotated[int, typer.Option(min=1, help="Top risers and fallers shown.")] = 10,
) -> None:
    """Write an HTML report (charts embedded, nothing fetched when viewed) of a period."""
    for name in (table, allocation_table):
        if name is not None:
            validate_table_name(name)
    now = datetime.now(UTC)
    sink = open_sink(db, read_only=True)  # a mistyped path is an error, not a new file
    try:
        if (start is None) != (end is None):
            raise ConfigError("--start and --end go together: give both, or neither")
        period = (explicit_period(utc_moment("--start", start, "an ISO 8601 date"),
                                  utc_moment("--end", end, "an ISO 8601 date"))
                  if start is not None and end is not None
                  else choose_period(sink, table, now))
        report = build_report(sink, table, period, allocation_table=allocation_table,
                              top=top, movers=movers, now=now)
    finally:
        sink.close()
    page = render(report)
    atomic_write(out, lambda path: path.write_text(page, encoding="utf-8"))
    console.print(f"{report.period.label} vs {report.period.previous_label}: "
                  f"{len(page.encode()) / 1e6:.1f} MB, queries {report.seconds:.2f} s")
    console.print(f"report written to [bold]{out}[/] from {database_location(db)}")
