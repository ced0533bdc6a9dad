"""``focusflow ingest``, ``summary`` and ``export``: FOCUS files into a database and back out."""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from focusflow import interrupts
from focusflow.cli.app import (
    EXIT_UNREADABLE,
    LogJson,
    LogLevel,
    app,
    console,
    fail,
    interrupted,
    setup_logging,
)
from focusflow.cli.ingest_validation import Prepared, prevalidate
from focusflow.cli.logs import ProgressLog
from focusflow.cli.options import NullValueOption, http_options, null_values
from focusflow.cli.summaries import BREAKDOWNS, breakdown_table
from focusflow.errors import (
    ConfigError,
    FocusflowError,
    Interrupted,
    SourceError,
    UnreadableInputError,
)
from focusflow.focus import Dataset
from focusflow.focus.catalogue import detect_dataset
from focusflow.focus.writer import FileFormat, write_focus_file
from focusflow.ingest import (
    IngestOptions,
    IngestOutcome,
    RejectedRows,
    RejectLimit,
    RejectLimitError,
    ingest_location,
    write_rejects,
    write_rejects_csv,
)
from focusflow.sinks import DEFAULT_DB_URL, Sink, database_location, open_sink, quote
from focusflow.sinks.datasets import table_columns

DbOption = Annotated[str, typer.Option("--db", help="Database URL: duckdb:///relative.duckdb, "
                                       "duckdb:////absolute/path.duckdb or "
                                       "postgresql://user@host/db", envvar="FOCUSFLOW_DB")]
TableOption = Annotated[str, typer.Option("--table", help="Target table, [schema.]name.")]


@app.command("ingest")
def ingest_command(
    sources: Annotated[list[str], typer.Argument(help="FOCUS files: paths, http(s)://, s3:// or "
                                                 "az:// URLs (CSV, CSV.gz, Parquet, JSON); "
                                                 "Azure export folders (manifest.json).")],
    db: DbOption = DEFAULT_DB_URL,
    table: TableOption = "focus",
    source_id: Annotated[str | None, typer.Option(
        help="Identity of the source (default: its location). Re-loading the same source "
             "replaces its rows for the same billing periods.")] = None,
    focus_version: Annotated[str | None, typer.Option(
        help="FOCUS version of the files (default: detected from the header).")] = None,
    skip_invalid: Annotated[bool, typer.Option(
        help="Quarantine rows that fail conversion to --rejects instead of failing.")] = False,
    rejects: Annotated[Path, typer.Option(help="Where --skip-invalid writes bad rows.")] = Path(
        "focusflow-rejects.csv"),
    header: Annotated[list[str] | None, typer.Option(
        "--header", "-H", help="Extra HTTP header 'Name: value' (repeatable).")] = None,
    bearer_token: Annotated[str | None, typer.Option(
        envvar="FOCUSFLOW_BEARER_TOKEN", help="Bearer token for http(s) sources.")] = None,
    username: Annotated[str | None, typer.Option(help="Basic-auth user for http(s).")] = None,
    password: Annotated[str | None, typer.Option(
        envvar="FOCUSFLOW_PASSWORD", help="Basic-auth password for http(s).")] = None,
    ca_file: Annotated[str | None, typer.Option(help="CA bundle for https sources.")] = None,
    insecure: Annotated[bool, typer.Option(help="Skip TLS verification (not advised).")] = False,
    validate: Annotated[bool, typer.Option(
        help="Check FOCUS conformance first (as 'focusflow validate'): refuse files breaking "
             "a MUST rule, or with --skip-invalid quarantine the offending rows.")] = False,
    null_value: NullValueOption = None,
    max_rejected: Annotated[str | None, typer.Option(
        metavar="N|P%", help="With --skip-invalid: fail a file's load (nothing of it is "
                             "committed) when more than N rows, or P% of its rows, are "
                             "quarantined. Default: no limit.")] = None,
    allow_same_content: Annotated[bool, typer.Option(
        help="Load a file even when another source of the table already loaded the same "
             "content (compressed or not); by default it is refused, naming that source.")
    ] = False,
    log_level: LogLevel = "INFO",
    log_json: LogJson = False,
) -> None:
    """Load FOCUS reports into a database, replacing each source's earlier rows per period."""
    # The objects of the imports live as long as this one-shot process: the collector need
    # not walk them again (a full collection mid-load took 0.06 s on DuckDB's thread).
    gc.freeze()
    setup_logging(log_level, log_json)
    http = http_options(header, bearer_token, username, password, ca_file, insecure)
    options = IngestOptions(
        table=table, focus_version=focus_version, skip_invalid=skip_invalid, http=http,
        null_values=null_values(null_value), allow_same_content=allow_same_content,
        max_rejected=RejectLimit.parse(max_rejected) if max_rejected is not None else None,
    )
    if options.max_rejected is not None and not skip_invalid:
        raise ConfigError("--max-rejected limits --skip-invalid: add --skip-invalid")
    outcomes: list[IngestOutcome] = []  # filled as sources load: earlier ones stay loaded
    committed: list[str] = []  # the sources whose load is committed, in order
    try:
        _ingest_all(sources, db, options, outcomes, committed, source_id=source_id,
                    validate=validate)
        # Everything is committed: a signal from now on is reported as arriving after the
        # work (by the CLI's exit), never as "nothing was loaded".
        interrupts.hold()
    except (Interrupted, FocusflowError) as exc:
        interrupts.release()
        if isinstance(exc, Interrupted) or interrupts.received() is not None:
            raise _stopped(exc, sources, committed) from None
        files = f" [{_file_states(sources, committed, 'failed')}]" if len(sources) > 1 else ""
        if isinstance(exc, RejectLimitError):
            write_rejects_csv(rejects, [*(RejectedRows(o.name, o.header, o.rejects)
                                          for o in outcomes), exc.rejected])
            raise fail(f"{exc} (its rejected rows are in {rejects}){files}") from None
        if isinstance(exc, UnreadableInputError | SourceError):
            raise fail(f"unreadable input: {exc}{files}", EXIT_UNREADABLE) from None
        if not files:
            raise  # one source: the CLI's boundary prints the error as one line
        raise fail(f"{exc}{files}") from None
    quarantined = write_rejects(rejects, outcomes) if skip_invalid else 0
    console.print(_outcome_table(outcomes, quarantined, rejects, database_location(db)))
    empty = [o for o in outcomes if o.nothing_loaded]
    if empty:
        raise fail(f"nothing loaded from {', '.join(o.name for o in empty)}: every row was "
                   f"quarantined to {rejects}")


def _ingest_all(sources: list[str], db: str, options: IngestOptions,
                outcomes: list[IngestOutcome], committed: list[str], *,
                source_id: str | None, validate: bool) -> None:
    """Validate (with ``--validate``) then load each source, appending to ``outcomes`` and,
    once its load is committed, its location to ``committed``."""
    one_id = source_id if len(sources) == 1 else None
    prepared = prevalidate(sources, focus_version=options.focus_version, http=options.http,
                           null_values=options.null_values, skip_invalid=options.skip_invalid,
                           source_id=one_id) if validate else [
        Prepared(uri, one_id) for uri in sources]
    sink = open_sink(db)
    try:
        for item in prepared:
            interrupts.check()
            outcomes.extend(_ingest_one(item.uri, sink, replace(
                options, source_id=item.source_id, quarantine=item.quarantine or None)))
            committed.append(item.uri)
            interrupts.settle()  # recorded: a signal held since its COMMIT stops the run now
    finally:
        sink.close()


def _stopped(exc: BaseException, uris: list[str], committed: list[str]) -> typer.Exit:
    """The one line of a run a signal stopped: what became of each file."""
    signum = exc.signum if isinstance(exc, Interrupted) else interrupts.received()
    assert signum is not None  # noqa: S101 - only called for a stop
    files = _file_states(uris, committed, "rolled back")
    done = f"{files}" if committed else "nothing was loaded"
    if committed and len(uris) == 1:
        done = f"{files} before the signal; nothing else to load"
    elif not committed and len(uris) > 1:
        done = f"nothing was loaded ({files})"
    return interrupted(signum, done)


def _file_states(uris: list[str], committed: list[str], failed: str) -> str:
    """``a.csv committed, b.csv failed, c.csv not attempted``."""
    states = []
    for index, uri in enumerate(uris):
        state = ("committed" if index < len(committed) else
                 failed if index == len(committed) else "not attempted")
        states.append(f"{uri} {state}")
    return ", ".join(states)


def _ingest_one(uri: str, sink: Sink, options: IngestOptions) -> list[IngestOutcome]:
    name = Path(uri).name or uri
    if not console.is_terminal:  # a Job or a pipe: progress as log lines every few seconds
        return ingest_location(uri, sink, options, ProgressLog(name))
    from rich.progress import (  # noqa: PLC0415 - a bar only in a terminal
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TextColumn("{task.fields[rows]:,} rows"), TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(name, total=None, rows=0)

        def update(done: int, total: int | None, rows: int) -> None:
            bar.update(task, completed=done, total=total, rows=rows)

        return ingest_location(uri, sink, options, update)


def _outcome_table(outcomes: list[IngestOutcome], quarantined: int, rejects: Path,
                   where: str) -> Table:
    table = Table(title=f"Ingested into {where}", show_lines=False)
    for name in ("source", "billing period", "currency", "rows", "BilledCost", "EffectiveCost"):
        table.add_column(name, justify="right" if name in {"rows", "BilledCost",
                                                             "EffectiveCost"} else "left")
    for outcome in outcomes:
        source = Path(outcome.name).name or outcome.name
        if outcome.result.unchanged:
            table.add_row(source, "unchanged", "", "", "",
                          "")
            continue
        for total in outcome.result.totals:
            table.add_row(
                source, _month(total.period), total.currency or "", f"{total.rows:,}",
                _money(total.billed_cost), _money(total.effective_cost),
            )
        if outcome.result.rows_replaced:
            table.add_row(source, f"replaced {outcome.result.rows_replaced:,} earlier rows", "",
                          "", "", "")
    if quarantined:
        table.caption = f"{quarantined:,} invalid rows quarantined to {rejects}"
    return table


def _month(value: datetime | None) -> str:
    return value.strftime("%Y-%m") if value else "-"


def _money(value: Decimal | None) -> str:
    return f"{value:,.2f}" if value is not None else ""


@app.command("summary")
def summary_command(
    db: DbOption = DEFAULT_DB_URL,
    table: TableOption = "focus",
    top: Annotated[int, typer.Option(help="Rows per breakdown.")] = 10,
    log_level: LogLevel = "INFO",
    log_json: LogJson = False,
) -> None:
    """Cost by month, service and sub-account of a Cost and Usage table; commitments,
    invoices or billing periods of a table holding another FOCUS dataset."""
    setup_logging(log_level, log_json)
    sink = open_sink(db, read_only=True)
    console.print(f"database {database_location(db)}", highlight=False, soft_wrap=True)
    try:
        columns = table_columns(sink, table)
        if columns is None:
            raise fail(f"table {table!r} does not exist in {sink.name}", 1)
        dataset = detect_dataset(columns)
        if dataset is not Dataset.COST_AND_USAGE:
            console.print(f"{table}: FOCUS {dataset.label}", highlight=False)
            for spec in BREAKDOWNS[dataset]:
                console.print(breakdown_table(sink, table, spec, top))
            return
        for title, key in (("Cost by month", "month"), ("Cost by service", "ServiceName"),
                           ("Cost by sub-account", "SubAccountName")):
            console.print(_breakdown(sink, table, title, key, top))
    finally:
        sink.close()


def _breakdown(sink: Sink, table: str, title: str, key: str, top: int) -> Table:
    label = (f"strftime({quote('BillingPeriodStart')}, '%Y-%m')" if key == "month"
             else quote(key))
    if key == "month" and sink.name == "postgres":
        label = f"to_char({quote('BillingPeriodStart')} AT TIME ZONE 'UTC', 'YYYY-MM')"
    order = "1, 2" if key == "month" else "3 DESC"
    statement = (
        f"SELECT {label} AS k, {quote('BillingCurrency')} AS c, SUM({quote('BilledCost')}), "
        f"SUM({quote('EffectiveCost')}), COUNT(*) FROM {{table}} GROUP BY 1, 2 ORDER BY {order} "
        f"LIMIT {int(top)}"
    )
    rows = sink.query(table, statement).to_pylist()
    out = Table(title=title)
    out.add_column("month" if key == "month" else key)
    out.add_column("currency")
    for name in ("BilledCost", "EffectiveCost", "rows"):
        out.add_column(name, justify="right")
    for row in rows:
        values = list(row.values())
        out.add_row(str(values[0] or "-"), str(values[1] or ""), _money(values[2]),
                    _money(values[3]), f"{values[4]:,}")
    return out


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Argument(help="File to write: .csv, .csv.gz or .parquet.")],
    db: DbOption = DEFAULT_DB_URL,
    table: TableOption = "focus",
    file_format: Annotated[FileFormat | None, typer.Option(
        "--format", help="csv, csv.gz or parquet (default: from the file name).")] = None,
    log_level: LogLevel = "INFO",
    log_json: LogJson = False,
) -> None:
    """Write a loaded table back as a FOCUS file: conformant CSV (UTC 'Z' date-times, shortest
    exact decimals, JSON as text) or typed Parquet. The file appears whole or not at all."""
    setup_logging(log_level, log_json)
    sink = open_sink(db, read_only=True)
    try:
        columns = table_columns(sink, table)
        if columns is None:
            raise fail(f"table {table!r} does not exist in {sink.name}", 1)
        dataset = detect_dataset(columns)
        data = sink.read_table(table)
    finally:
        sink.close()
    write_focus_file(data, out, file_format)
    console.print(f"wrote {data.num_rows:,} FOCUS {dataset.label} rows from "
                  f"{database_location(db)} to {out}", highlight=False, soft_wrap=True)
