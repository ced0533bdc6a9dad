"""``focusflow allocate``: Kubernetes cost allocation into a table (CLI layer, wiring only).

Flags become ``AllocationSettings`` and the export job's Prometheus settings (tokens and
passwords come from the same environment variables as ``k8s-export``: PROMETHEUS_AUTH_TOKEN,
PROMETHEUS_BEARER_AUTH_TOKEN, PROMETHEUS_USERNAME/PASSWORD), billing rows from a FOCUS file or
an ingested table, and the run's progress and summary are printed with Rich.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from focusflow.allocation.ahead import Ahead
from focusflow.allocation.metrics import ClusterMetrics, iso_hour
from focusflow.allocation.model import IDLE
from focusflow.allocation.prices import load_default_prices
from focusflow.allocation.settings import CHUNK_HOURS, allocation_settings, prometheus_settings
from focusflow.allocation.windows import loaded_windows, overlapping
from focusflow.cli.app import LogJson, LogLevel, app, console, setup_logging, utc_moment
from focusflow.cli.files import removed_if_failed
from focusflow.cli.logs import ProgressLog
from focusflow.errors import ConfigError, SourceError, UnreadableInputError
from focusflow.k8s_export.prometheus import PrometheusClient
from focusflow.sinks import DEFAULT_DB_URL, database_location, open_sink

if TYPE_CHECKING:
    from focusflow.allocation.billing import BillingIndex
    from focusflow.allocation.job import AllocationReport
    from focusflow.allocation.settings import AllocationSettings
    from focusflow.sinks import Sink

By = Literal["container", "pod", "controller", "namespace"]


# The settings' fields as this command's flags name them, for its error messages.
FLAGS = {"start": "--start", "end": "--end", "table": "--table", "by": "--by",
         "resolution_seconds": "--resolution", "chunk_hours": "--chunk-hours",
         "cluster_label": "--cluster-label", "default_cluster": "--cluster",
         "cost_column": "--cost-column", "currency": "--currency", "source_id": "--source-id"}

ENDPOINT_FLAGS = {"PROMETHEUS_URL": "--prometheus", "PROMETHEUS_CA_FILE": "--ca-file",
                  "PROMETHEUS_X_SCOPE_ORGID": "--org-id"}


def _hour(flag: str, value: str) -> datetime:
    return utc_moment(flag, value, "an ISO 8601 UTC hour such as 2025-11-01T00:00:00Z")


@app.command("allocate")
def allocate_command(
    prometheus: Annotated[str, typer.Option(
        "--prometheus", envvar="PROMETHEUS_URL",
        help="Prometheus-compatible API base URL (Prometheus, Thanos, Mimir, VictoriaMetrics).")],
    start: Annotated[str, typer.Option(help="Window start, a whole UTC hour (ISO 8601).")],
    end: Annotated[str, typer.Option(help="Window end (exclusive), a whole UTC hour.")],
    billing: Annotated[str | None, typer.Option(
        help="FOCUS billing report with the nodes' Usage rows (path, http(s)://, s3://...).")
    ] = None,
    billing_db: Annotated[str | None, typer.Option(
        help="Database holding billing rows loaded by 'focusflow ingest'.")] = None,
    billing_table: Annotated[str, typer.Option(help="Table of --billing-db.")] = "focus",
    db: Annotated[str, typer.Option("--db", envvar="FOCUSFLOW_DB",
                                    help="Database URL for the allocation rows.")
                  ] = DEFAULT_DB_URL,
    table: Annotated[str, typer.Option(help="Target table, [schema.]name.")] = "k8s_allocation",
    by: Annotated[By, typer.Option(help="Row granularity per node-hour.")] = "container",
    default_prices: Annotated[str | None, typer.Option(
        help="JSON price sheet {CPU, RAM, GPU} for the CPU/RAM split and unmatched nodes "
             "(default: OpenCost's defaults).")] = None,
    require_billing: Annotated[bool, typer.Option(
        help="Fail when a node has no billing row instead of pricing it from the sheet.")
    ] = False,
    cost_column: Annotated[Literal["EffectiveCost", "BilledCost"], typer.Option(
        help="Billing column that prices nodes.")] = "EffectiveCost",
    currency: Annotated[str, typer.Option(help="Currency when no billing rows say.")] = "USD",
    cluster_label: Annotated[str, typer.Option(help="Label that names the cluster.")
                             ] = "cluster",
    cluster: Annotated[str, typer.Option(help="Cluster name for series without that label.")
                       ] = "default",
    resolution: Annotated[int, typer.Option(help="Seconds per running-time sample.")] = 60,
    chunk_hours: Annotated[int, typer.Option(
        help="Hours queried at once: memory grows with pods x chunk hours, not the window.")
    ] = CHUNK_HOURS,
    source_id: Annotated[str | None, typer.Option(
        help="Load identity (default: endpoint + window).")] = None,
    allow_overlap: Annotated[bool, typer.Option(
        "--allow-overlap", help="Load a window that overlaps one already loaded with other "
        "bounds (their shared hours are then counted twice).")] = False,
    org_id: Annotated[str | None, typer.Option(help="X-Scope-OrgID tenant header.")] = None,
    ca_file: Annotated[str | None, typer.Option(help="CA bundle for https.")] = None,
    insecure: Annotated[bool | None, typer.Option(
        "--insecure/--verify", help="Skip TLS verification (not advised).")] = None,
    log_level: LogLevel = "INFO",
    log_json: LogJson = False,
) -> None:
    """Allocate node costs to namespaces, controllers, pods and containers per hour."""
    setup_logging(log_level, log_json)
    if billing and billing_db:
        raise ConfigError("--billing and --billing-db both give billing rows; pass one")
    if require_billing and not (billing or billing_db):
        raise ConfigError("--require-billing needs billing rows to require: pass --billing "
                          "FILE or --billing-db URL")
    settings = allocation_settings(
        start=_hour("--start", start), end=_hour("--end", end), table=table, by=by,
        resolution_seconds=resolution, chunk_hours=chunk_hours, cluster_label=cluster_label,
        default_cluster=cluster,
        cost_column=cost_column, currency=currency, require_billing=require_billing,
        source_id=source_id, prices=load_default_prices(default_prices), labels=FLAGS)
    endpoint = prometheus_settings(prometheus_url=prometheus, prometheus_x_scope_orgid=org_id,
                                   prometheus_ca_file=ca_file, prometheus_insecure=insecure,
                                   labels=ENDPOINT_FLAGS)
    client = PrometheusClient(endpoint)
    try:
        report = _run(settings, ClusterMetrics(
            client, resolution=settings.resolution_seconds, cluster_label=settings.cluster_label,
            default_cluster=settings.default_cluster), billing=billing, billing_db=billing_db,
            billing_table=billing_table, db=db, base_url=endpoint.base_url,
            allow_overlap=allow_overlap)
    finally:
        client.close()
    console.print(summary_table(report))
    console.print(_footer(report), highlight=False, soft_wrap=True)
    console.print(f"database {database_location(db)}", highlight=False, soft_wrap=True)


def _run(settings: AllocationSettings, metrics: ClusterMetrics, *, billing: str | None,
         billing_db: str | None, billing_table: str, db: str, base_url: str,
         allow_overlap: bool) -> AllocationReport:
    # The billing rows first: a bad report fails before Prometheus is asked.
    index = _billing(billing, billing_db, billing_table, settings.start_s, settings.end_s,
                     settings.cost_column)
    span = index.presence_span(settings.start_s, settings.end_s) if index else None
    # Then the first queries: DuckDB and Arrow load and the database opens while Prometheus
    # answers them (without billing rows the first query leaves 0.2 s sooner).
    with Ahead(metrics, settings, span) as ahead, removed_if_failed(db):
        from focusflow.allocation.job import run_allocation  # noqa: PLC0415 - see above

        sink = open_sink(db)
        try:
            if settings.source_id is None and not allow_overlap:
                _refuse_overlap(sink, settings, base_url)
            columns = (TextColumn("[bold]allocating hours"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn())
            with Progress(*columns, console=console, transient=True,
                          disable=not console.is_terminal) as bar:
                task = bar.add_task("hours", total=None)
                logged = ProgressLog("allocate")  # outside a terminal: a log line every 5 s

                def update(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)
                    if not console.is_terminal:
                        logged.hours(done, total)

                return run_allocation(settings, metrics, index, sink, base_url=base_url,
                                      progress=update, ahead=ahead)
        finally:
            sink.close()


def _refuse_overlap(sink: Sink, settings: AllocationSettings, base_url: str) -> None:
    """Refuse a window sharing hours with one already loaded from this endpoint under other
    bounds: both loads would keep those hours (the same window again replaces its rows)."""
    start, end = settings.start_s, settings.end_s
    found = overlapping(loaded_windows(sink, settings.table, base_url, start, end), start, end)
    if found:
        listed = ", ".join(f"{iso_hour(a)}/{iso_hour(b)}" for a, b in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        raise ConfigError(
            f"window {iso_hour(start)}/{iso_hour(end)} overlaps "
            f"{listed}{more}, already loaded into {settings.table} from {base_url}: the hours "
            "they share would be counted twice; allocate the same window again to replace it, "
            "a window that does not overlap, or pass --allow-overlap")


def _billing(file: str | None, db: str | None, table: str, start: int, end: int,
             cost_column: str) -> BillingIndex | None:
    if file:
        from focusflow.allocation.billing import read_billing_file  # noqa: PLC0415 - Arrow

        try:
            return read_billing_file(file, start, end, cost_column)
        except SourceError as exc:  # missing or unreachable: exit 2, as ingest says it
            raise UnreadableInputError(f"unreadable input: {exc}") from None
    if not db:
        return None
    from focusflow.allocation.billing import read_billing_table  # noqa: PLC0415 - Arrow

    sink = open_sink(db)
    try:
        return read_billing_table(sink, table, start, end, cost_column)
    finally:
        sink.close()


def _money(value: Decimal) -> str:
    return f"{value:,.4f}"


def summary_table(report: AllocationReport) -> Table:
    """Cost per cluster and namespace, idle last, with the share of each."""
    table = Table(title=f"Allocated ({report.currency})")
    for name in ("cluster", "namespace", "cost", "%"):
        table.add_column(name, justify="right" if name in {"cost", "%"} else "left")
    total = report.total or Decimal(1)
    for (cluster, namespace), cost in sorted(
            report.by_namespace.items(), key=lambda kv: (kv[0][0], kv[0][1] == IDLE, kv[0][1])):
        table.add_row(cluster, namespace, _money(cost), f"{100 * cost / total:.1f}")
    table.add_row("", "total", _money(report.total), "100.0", style="bold")
    return table


LISTED_NODES = 10  # sheet-priced nodes named in the summary; the rows flag every one


def _footer(report: AllocationReport) -> str:
    idle_pct = 100 * report.idle / report.total if report.total else Decimal(0)
    lines = [f"idle {_money(report.idle)} {report.currency} ({idle_pct:.1f}% of node cost); "
             f"{report.hours} hours, {report.queries} range queries"]
    if report.load is not None:
        lines.append(f"loaded {report.load.rows_written:,} rows into {report.load.table}"
                     + (f", replacing {report.load.rows_replaced:,} earlier rows"
                        if report.load.rows_replaced else ""))
    if report.default_priced:
        priced = sorted(report.default_priced.items())
        lines.append(f"[yellow]{len(priced)} node(s) priced from the price sheet (no billing "
                     "row), flagged x_PriceSource=default:[/]")
        lines += [f"  {cluster}/{node} provider_id={pid or '-'} {hours:.2f} node-hours"
                  for (cluster, node), (pid, hours) in priced[:LISTED_NODES]]
        if len(priced) > LISTED_NODES:  # a big cluster without billing: the rows say the rest
            table = report.load.table if report.load is not None else "the table"
            lines.append(f"  … and {len(priced) - LISTED_NODES} more (SELECT DISTINCT x_Cluster, "
                         f"x_Node FROM {table} WHERE x_PriceSource = 'default')")
    if report.unplaced:
        lines.append(f"{report.unplaced} container-hours ran on no known node (not allocated)")
    if report.empty_hours:  # e.g. a window reaching past the history, or a scrape gap
        first, last = report.empty_hours[0], report.empty_hours[-1]
        span = iso_hour(first) if first == last else f"{iso_hour(first)} … {iso_hour(last)}"
        lines.append(f"[yellow]{len(report.empty_hours)} hour(s) of the window had no node to "
                     f"allocate (no kube_node_info series with a capacity): {span}[/]")
    return "\n".join(lines)
