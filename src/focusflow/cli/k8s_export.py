"""``focusflow k8s-export``: one run of the Finout-compatible Prometheus → S3 export job.

Configured by the documented environment variables (``CLUSTER_NAME``, ``S3_BUCKET``, ...); each
flag below overrides its variable. This module only wires flags to ``focusflow.k8s_export``.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from focusflow.cli.app import app, console, interrupted, setup_logging, utc_moment
from focusflow.errors import Interrupted
from focusflow.k8s_export import CATALOGUE, ExportReport, load_settings, run_export

_ENV = "Overrides {}."


def _opt(env: str, help_: str = "", *names: str) -> Any:
    text = f"{help_} {_ENV.format(env)}".strip()
    return typer.Option(*names, help=text, show_default=False)


def _parse_now(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    return utc_moment("--now", value, "Unix seconds or an ISO 8601 time such as "
                      "2025-11-01T06:00:00Z").timestamp()


@app.command("k8s-export")
def k8s_export_command(
    cluster_name: Annotated[str | None, _opt("CLUSTER_NAME", "Cluster name in the keys.")] = None,
    bucket: Annotated[str | None, _opt(
        "S3_BUCKET", "Bucket name, s3://bucket, or file:///dir for a local directory.",
        "--bucket")] = None,
    prefix: Annotated[str | None, _opt("S3_PREFIX", "Key prefix.", "--prefix")] = None,
    prometheus_url: Annotated[str | None, _opt(
        "PROMETHEUS_URL", "Full base URL (wins over scheme/host/port/path prefix).")] = None,
    scheme: Annotated[str | None, _opt("SCHEME")] = None,
    host: Annotated[str | None, _opt("PROMETHEUS_HOST / HOSTNAME", "", "--host")] = None,
    port: Annotated[int | None, _opt("PORT")] = None,
    path_prefix: Annotated[str | None, _opt("PATH_PREFIX", "e.g. /prometheus (Mimir).")] = None,
    auth_token: Annotated[str | None, _opt("PROMETHEUS_AUTH_TOKEN", "Raw Authorization value.")
                          ] = None,
    bearer_token: Annotated[str | None, _opt("PROMETHEUS_BEARER_AUTH_TOKEN")] = None,
    username: Annotated[str | None, _opt("PROMETHEUS_USERNAME")] = None,
    password: Annotated[str | None, _opt("PROMETHEUS_PASSWORD")] = None,
    x_scope_orgid: Annotated[str | None, _opt("PROMETHEUS_X_SCOPE_ORGID", "Tenant header.")
                             ] = None,
    ca_file: Annotated[str | None, _opt("PROMETHEUS_CA_FILE")] = None,
    insecure: Annotated[bool | None, _opt("PROMETHEUS_INSECURE", "Skip TLS verification.",
                                          "--insecure/--verify")] = None,
    cluster_label: Annotated[str | None, _opt(
        "CLUSTER_LABEL", "Filter series by this label = cluster name (central stores).")] = None,
    role_arn: Annotated[str | None, _opt("ROLE_ARN")] = None,
    role_external_id: Annotated[str | None, _opt("ROLE_EXTERNAL_ID")] = None,
    aws_endpoint_url: Annotated[str | None, _opt("AWS_ENDPOINT_URL", "S3-compatible store.")
                                ] = None,
    time_frame: Annotated[int | None, _opt("TIME_FRAME", "Window seconds.")] = None,
    backfill_days: Annotated[str | None, _opt("BACKFILL_DAYS", "Days, as 3 or 3d.")] = None,
    initial_backfill_date: Annotated[str | None, _opt(
        "INITIAL_BACKFILL_DATE", "First run starts at this UTC date (YYYY-MM-DD).")] = None,
    retention_days: Annotated[int | None, _opt("RETENTION_DAYS", "0 disables deletion.")] = None,
    query_delay: Annotated[float | None, _opt("QUERY_DELAY_SECONDS", "", "--query-delay")
                           ] = None,
    safety_lag: Annotated[int | None, _opt("SAFETY_LAG_SECONDS", "", "--safety-lag")] = None,
    metrics: Annotated[str | None, _opt("METRICS", "Comma-separated subset.")] = None,
    allow_partial: Annotated[bool | None, _opt(
        "ALLOW_PARTIAL_RESPONSES", "Accept Thanos warnings / partial data.",
        "--allow-partial/--no-allow-partial")] = None,
    now: Annotated[str | None, typer.Option(
        help="Pretend it is this time (ISO 8601 or Unix seconds): replays a past day.")] = None,
    list_metrics: Annotated[bool, typer.Option(
        "--list-metrics", help="Print the metric catalogue and its PromQL, then exit.")] = False,
    log_level: Annotated[str, typer.Option(envvar="LOG_LEVEL")] = "INFO",
    log_json: Annotated[bool, typer.Option(envvar="LOG_JSON")] = False,
) -> None:
    """Export Kubernetes usage from Prometheus to S3 in Finout's layout (one CronJob run)."""
    if list_metrics:
        _print_catalogue()
        return
    setup_logging(log_level, log_json)
    note = getattr(sys.modules.get("focusflow.cli"), "bare_start_note", None)
    if note:
        logging.getLogger("focusflow.cli").info("%s", note)
    if logging.getLogger().level > logging.DEBUG:
        for noisy in ("httpx", "botocore"):  # one line per query / credential lookup is noise
            logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = load_settings(
        cluster_name=cluster_name, s3_bucket=bucket, s3_prefix=prefix,
        prometheus_url=prometheus_url, scheme=scheme, hostname=host, port=port,
        path_prefix=path_prefix, prometheus_auth_token=auth_token,
        prometheus_bearer_auth_token=bearer_token, prometheus_username=username,
        prometheus_password=password, prometheus_x_scope_orgid=x_scope_orgid,
        prometheus_ca_file=ca_file, prometheus_insecure=insecure, cluster_label=cluster_label,
        role_arn=role_arn, role_external_id=role_external_id, aws_endpoint_url=aws_endpoint_url,
        time_frame=time_frame, backfill_days=backfill_days,
        initial_backfill_date=initial_backfill_date, retention_days=retention_days,
        query_delay_seconds=query_delay, safety_lag_seconds=safety_lag, metrics=metrics,
        allow_partial=allow_partial,
    )
    try:
        report = run_export(settings, now=_parse_now(now))
    except Interrupted as exc:  # files of the window in flight may exist; the state is whole
        raise interrupted(exc.signum, "stopped; the export state still names the last complete "
                          "window, and the next run resumes from it") from None
    console.print(_summary(report), highlight=False, soft_wrap=True)


def _print_catalogue() -> None:
    # Plain lines, not a table: PromQL must stay copy-pastable.
    for metric in CATALOGUE.values():
        extra = "" if metric.default else "  [dim](only when named in METRICS)[/]"
        console.print(f"[bold]{metric.name}[/]  {metric.description}{extra}", highlight=False,
                      soft_wrap=True)
        console.print(f"    {metric.promql()}", highlight=False, soft_wrap=True, markup=False)


def _stamp(timestamp: int | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(report: ExportReport) -> str:
    where = f"{report.location}/{report.cluster_root}"
    if report.windows:
        done = (f"exported {len(report.windows)} windows ({report.files} files) "
                f"{_stamp(report.windows[0].start)} .. {_stamp(report.windows[-1].end)} "
                f"to {where}")
    else:
        done = f"nothing due: {where} is up to date until {_stamp(report.last_end)}"
    if report.deleted:
        done += f"; deleted {report.deleted} expired files"
    return done
