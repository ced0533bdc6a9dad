"""``focusflow azure query|metrics``: Azure Cost Management and Monitor from the command line.

Layer: ``cli`` (thin wiring). Credentials come from flags, a mounted Secret folder
(``--credentials-dir``: keys ``tenantId``/``clientId``/``clientSecret`` or the ``AZURE_*``
names), or the standard ``AZURE_*`` variables, in that order of precedence. The secret itself
is best passed by variable or Secret, never typed on a shared shell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.table import Table

from focusflow import redaction
from focusflow.cli.app import app, console
from focusflow.errors import ConfigError
from focusflow.ingest import IngestOptions, ingest_planned
from focusflow.sinks import DEFAULT_DB_URL, open_sink
from focusflow.sources.azure import ArmClient, AzureSettings, settings_from_secret, token_source
from focusflow.sources.azure.monitor import MetricsQuery, fetch_metrics
from focusflow.sources.azure.query import QueryLoad, parse_cost_query

azure_app = typer.Typer(help="Azure Cost Management queries and Azure Monitor metrics.",
                        no_args_is_help=True)
app.add_typer(azure_app, name="azure")

TenantOption = Annotated[str | None, typer.Option(help="Entra ID tenant (AZURE_TENANT_ID).")]
ClientOption = Annotated[str | None, typer.Option(help="App (client) id (AZURE_CLIENT_ID).")]
SecretOption = Annotated[str | None, typer.Option(
    help="Client secret; prefer AZURE_CLIENT_SECRET or --credentials-dir.", show_default=False)]
DirOption = Annotated[Path | None, typer.Option(
    help="A mounted Secret: files tenantId, clientId, clientSecret (or AZURE_* names).")]
AuthorityOption = Annotated[str | None, typer.Option(
    help="Authority host for sovereign clouds (AZURE_AUTHORITY_HOST).")]
ArmOption = Annotated[str | None, typer.Option(
    help="Resource Manager URL (AZURE_RESOURCE_MANAGER_URL).")]
CaOption = Annotated[str | None, typer.Option(help="CA bundle for private endpoints.")]


def azure_settings(
    tenant_id: str | None, client_id: str | None, client_secret: str | None,
    credentials_dir: Path | None, authority_host: str | None,
    resource_manager_url: str | None, ca_file: str | None,
) -> AzureSettings:
    """Settings from flags over a Secret folder over the environment."""
    flags = {"tenant_id": tenant_id, "client_id": client_id,
             "client_secret": SecretStr(client_secret) if client_secret else None,
             "authority_host": authority_host, "resource_manager_url": resource_manager_url,
             "ca_file": ca_file}
    base = AzureSettings()
    values = {k: v for k, v in base.model_dump().items() if v is not None}
    if credentials_dir is not None:
        if not credentials_dir.is_dir():
            raise ConfigError(f"--credentials-dir {credentials_dir}: not a directory")
        secret = {p.name: SecretStr(p.read_text(encoding="utf-8")) for p in
                  sorted(credentials_dir.iterdir()) if p.is_file() and not p.name.startswith(".")}
        values.update({k: v for k, v in settings_from_secret(secret).model_dump().items()
                       if v is not None and k in secret_fields(secret)})
    values.update({k: v for k, v in flags.items() if v is not None})
    redaction.remember(*(v for v in values.values() if isinstance(v, SecretStr)))
    try:
        return AzureSettings.model_validate(values)
    except ValueError as exc:
        raise ConfigError(f"Azure settings: {exc}") from None


def secret_fields(secret: dict[str, SecretStr]) -> set[str]:
    """Which settings a Secret folder actually sets (so defaults do not override flags)."""
    names = {"tenantId": "tenant_id", "AZURE_TENANT_ID": "tenant_id", "clientId": "client_id",
             "AZURE_CLIENT_ID": "client_id", "clientSecret": "client_secret",
             "AZURE_CLIENT_SECRET": "client_secret", "authorityHost": "authority_host",
             "AZURE_AUTHORITY_HOST": "authority_host"}
    return {names[k] for k in secret if k in names}


@azure_app.command("query")
def query_command(
    scope: Annotated[str, typer.Argument(help="subscriptions/<id> (optionally "
                                         "/resourceGroups/<rg>), "
                                         "providers/Microsoft.Billing/billingAccounts/<id>, "
                                         "providers/Microsoft.Management/managementGroups/<id>")],
    cost_type: Annotated[str, typer.Option("--type", help="ActualCost or AmortizedCost.")] =
    "ActualCost",
    timeframe: Annotated[str, typer.Option(help="MonthToDate, TheLastMonth, Custom, ...")] =
    "MonthToDate",
    time_from: Annotated[str | None, typer.Option("--from", help="Custom start (YYYY-MM-DD).")]
    = None,
    time_to: Annotated[str | None, typer.Option("--to", help="Custom end, inclusive.")] = None,
    group_by: Annotated[list[str] | None, typer.Option(
        "--group-by", help="Dimension (ResourceId, ServiceName, ...) or tag:<key>; repeat.")]
    = None,
    db: Annotated[str, typer.Option("--db", envvar="FOCUSFLOW_DB")] = DEFAULT_DB_URL,
    table: Annotated[str, typer.Option("--table")] = "focus",
    tenant_id: TenantOption = None, client_id: ClientOption = None,
    client_secret: SecretOption = None, credentials_dir: DirOption = None,
    authority_host: AuthorityOption = None, resource_manager_url: ArmOption = None,
    ca_file: CaOption = None,
) -> None:
    """Load a Cost Management query (all pages) into a database as FOCUS-shaped rows."""
    settings = azure_settings(tenant_id, client_id, client_secret, credentials_dir,
                              authority_host, resource_manager_url, ca_file)
    data: dict[str, object] = {"scope": scope, "type": cost_type, "timeframe": timeframe}
    if time_from or time_to:
        data.update({"from": time_from, "to": time_to, "timeframe": "Custom"})
    if group_by:
        data["group_by"] = tuple(group_by)
    query = parse_cost_query(data, where="focusflow azure query")
    sink = open_sink(db)
    try:
        outcome = ingest_planned(QueryLoad(query, settings), sink, IngestOptions(table=table))
    finally:
        sink.close()
    out = Table(title=f"Cost Management {query.type} for {query.scope}")
    for name in ("billing period", "currency", "rows", "BilledCost", "EffectiveCost"):
        out.add_column(name)
    for total in outcome.result.totals:
        out.add_row(total.period.strftime("%Y-%m") if total.period else "-",
                    total.currency or "", f"{total.rows:,}", str(total.billed_cost or ""),
                    str(total.effective_cost or ""))
    console.print(out)


@azure_app.command("metrics")
def metrics_command(
    resource_id: Annotated[str, typer.Argument(help="/subscriptions/.../providers/<type>/<name>")],
    metric: Annotated[list[str], typer.Option("--metric", help="Metric name; repeat.")],
    interval: Annotated[str, typer.Option(help="ISO 8601 bucket, e.g. PT15M.")] = "PT15M",
    lookback: Annotated[str, typer.Option(help="Window ending now, e.g. PT6H or P1D.")] = "P1D",
    aggregation: Annotated[str, typer.Option(help="Average, Total, Maximum, ...")] = "Average",
    out: Annotated[Path | None, typer.Option(help="Write CSV here instead of printing.")] = None,
    tenant_id: TenantOption = None, client_id: ClientOption = None,
    client_secret: SecretOption = None, credentials_dir: DirOption = None,
    authority_host: AuthorityOption = None, resource_manager_url: ArmOption = None,
    ca_file: CaOption = None,
) -> None:
    """Fetch Azure Monitor metrics of one resource over a window ending now."""
    settings = azure_settings(tenant_id, client_id, client_secret, credentials_dir,
                              authority_host, resource_manager_url, ca_file)
    try:
        query = MetricsQuery(resource_id=resource_id, metric_names=tuple(metric),
                             interval=interval, lookback=lookback, aggregation=aggregation)
    except ValueError as exc:
        raise ConfigError(f"focusflow azure metrics: {exc}") from None
    client = ArmClient(token_source(settings), settings)
    try:
        data = fetch_metrics(client, query)
    finally:
        client.close()
    if out is not None:
        import pyarrow.csv as pacsv  # noqa: PLC0415

        pacsv.write_csv(data, out)
        console.print(f"wrote {data.num_rows:,} points to {out}")
        return
    table = Table(title=f"{resource_id.rsplit('/', 1)[-1]}: {', '.join(metric)}")
    for name in data.column_names:
        table.add_column(name)
    for row in data.to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    console.print(table)


__all__ = ["azure_app", "azure_settings"]
