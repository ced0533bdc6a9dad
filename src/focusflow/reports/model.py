"""What a cost report holds: aggregates per currency, ready to be rendered (reports layer).

Money is ``Decimal`` as the database summed it; the page shows it to the cent. Nothing here
sums across currencies: every figure carries its ``currency``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from focusflow.reports.period import Period


@dataclass(frozen=True)
class CurrencyTotal:
    """Billed and effective cost of one currency in the period and the one before."""

    currency: str
    billed: Decimal
    effective: Decimal
    rows: int
    previous_billed: Decimal
    previous_effective: Decimal
    previous_rows: int


@dataclass
class DailySeries:
    """Daily EffectiveCost per key (top N plus "(other)") of one currency."""

    currency: str
    days: list[date] = field(default_factory=list)
    series: dict[str, list[Decimal]] = field(default_factory=dict)


@dataclass(frozen=True)
class Mover:
    """A key whose cost changed between the two periods."""

    currency: str
    key: str
    label: str
    current: Decimal
    previous: Decimal

    @property
    def change(self) -> Decimal:
        return self.current - self.previous


@dataclass(frozen=True)
class Anomaly:
    """A day whose total departs from the trailing baseline (see ``anomalies``)."""

    currency: str
    day: date
    cost: Decimal
    median: Decimal
    mad: Decimal
    score: float | None  # robust z-score; None when the MAD is 0


@dataclass(frozen=True)
class Commitment:
    """Used and unused EffectiveCost of one commitment discount in the period."""

    currency: str
    id: str
    name: str
    used: Decimal
    unused: Decimal

    @property
    def utilisation(self) -> Decimal | None:
        total = self.used + self.unused
        return self.used / total if total else None


@dataclass(frozen=True)
class Share:
    """Cost of one key (namespace, workload) of an allocation table."""

    currency: str
    cluster: str
    key: str
    cost: Decimal


@dataclass(frozen=True)
class Idle:
    """Idle share of a node (``node`` set) or a whole cluster (``node`` None)."""

    currency: str
    cluster: str
    node: str | None
    total: Decimal
    idle: Decimal
    unpriced_hours: int  # node-hours priced from the default sheet (no billing row)

    @property
    def share(self) -> Decimal | None:
        return self.idle / self.total if self.total else None


@dataclass
class Kubernetes:
    """The allocation table's cost by namespace and workload, idle and unpriced nodes."""

    table: str
    namespaces: list[Share] = field(default_factory=list)
    workloads: list[Share] = field(default_factory=list)
    nodes: list[Idle] = field(default_factory=list)
    clusters: list[Idle] = field(default_factory=list)


@dataclass(frozen=True)
class SourceLoads:
    """What the loads registry says about one source of the table."""

    source_id: str
    loads: int
    rows_written: int
    first_loaded: datetime
    last_loaded: datetime


@dataclass
class Quality:
    """Rows, loads and validation facts about the table."""

    rows_total: int
    sources: list[SourceLoads] | None  # None: the sink keeps no readable loads registry
    validation: str | None = None  # a recorded validation summary, when there is one


@dataclass
class CostReport:
    """Everything one report page shows."""

    table: str
    period: Period
    generated_at: datetime
    top: int
    totals: list[CurrencyTotal]
    daily: dict[str, list[DailySeries]]  # dimension label -> one series per currency
    daily_totals: dict[str, DailySeries]  # currency -> one "total" series (the anomaly input)
    anomalies: list[Anomaly]
    movers: dict[str, list[Mover]]  # dimension label -> movers of every currency
    commitments: list[Commitment] | None  # None: the table has no commitment status columns
    kubernetes: Kubernetes | None
    quality: Quality
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
