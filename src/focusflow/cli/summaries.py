"""What ``focusflow summary`` shows for each FOCUS dataset, as Rich tables.

CLI layer. Cost and Usage keeps its cost by month, service and sub-account (``ingest.py``);
the other datasets have no charge period, so their tables group by what the dataset is about:
commitments by category, type and contract; invoices and their charge categories; billing
periods and their status. Queries are portable SQL over quoted names (DuckDB, PostgreSQL,
Delta); date-times are formatted here, not in SQL dialects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from rich.table import Table

from focusflow.focus import Dataset
from focusflow.sinks import Sink, quote


@dataclass(frozen=True)
class Breakdown:
    """One summary table: group by ``keys``, show ``measures`` (label, aggregate SQL)."""

    title: str
    keys: tuple[str, ...]
    measures: tuple[tuple[str, str], ...]
    order: str  # ORDER BY, by output position


def _sum(column: str) -> str:
    return f"SUM({quote(column)})"


def _min(column: str) -> str:
    return f"MIN({quote(column)})"


def _max(column: str) -> str:
    return f"MAX({quote(column)})"


ROWS = ("rows", "COUNT(*)")
BREAKDOWNS: dict[Dataset, tuple[Breakdown, ...]] = {
    Dataset.CONTRACT_COMMITMENT: (
        Breakdown("Contract commitments by category and type",
                  ("ContractCommitmentCategory", "ContractCommitmentType", "BillingCurrency"),
                  (ROWS, ("ContractCommitmentCost", _sum("ContractCommitmentCost")),
                   ("first start", _min("ContractCommitmentPeriodStart")),
                   ("last end", _max("ContractCommitmentPeriodEnd"))), "5 DESC, 1, 2"),
        Breakdown("Contract commitments by contract", ("ContractId", "BillingCurrency"),
                  (ROWS, ("ContractCommitmentCost", _sum("ContractCommitmentCost")),
                   ("contract start", _min("ContractPeriodStart")),
                   ("contract end", _max("ContractPeriodEnd"))), "4 DESC, 1"),
    ),
    Dataset.INVOICE_DETAIL: (
        Breakdown("Invoices", ("InvoiceId", "BillingPeriodStart", "InvoiceIssueStatus",
                               "BillingCurrency"),
                  (ROWS, ("BilledCost", _sum("BilledCost"))), "2, 1"),
        Breakdown("Invoiced by charge category", ("ChargeCategory", "BillingCurrency"),
                  (ROWS, ("BilledCost", _sum("BilledCost"))), "4 DESC, 1"),
    ),
    Dataset.BILLING_PERIOD: (
        Breakdown("Billing periods", ("BillingPeriodStart", "BillingPeriodEnd",
                                      "BillingPeriodStatus", "InvoiceIssuerName"),
                  (ROWS, ("last updated", _max("BillingPeriodLastUpdated"))), "1, 4"),
    ),
}


def breakdown_table(sink: Sink, table: str, spec: Breakdown, top: int) -> Table:
    """Run one breakdown and render it."""
    keys = ", ".join(quote(k) for k in spec.keys)
    measures = ", ".join(sql for _, sql in spec.measures)
    positions = ", ".join(str(i) for i in range(1, len(spec.keys) + 1))
    statement = (f"SELECT {keys}, {measures} FROM {{table}} GROUP BY {positions} "
                 f"ORDER BY {spec.order} LIMIT {int(top)}")
    out = Table(title=spec.title)
    for name in spec.keys:
        out.add_column(name)
    for label, _ in spec.measures:
        out.add_column(label, justify="right")
    for row in sink.query(table, statement).to_pylist():
        out.add_row(*(_cell(value) for value in row.values()))
    return out


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
