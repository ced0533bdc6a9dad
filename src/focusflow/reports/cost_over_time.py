"""Cost over time: daily EffectiveCost per dimension value, and a stacked chart of it.

The query runs in the sink (DuckDB, PostgreSQL, …) through ``Sink.query`` with portable SQL, so
only one row per day and dimension value leaves the database. The top-N values by total cost
keep their own series; the rest are summed as "other" so the chart stays readable.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from focusflow.errors import ConfigError, MissingExtraError
from focusflow.focus import lookup
from focusflow.focus.catalogue import DataType
from focusflow.sinks import Sink, quote

OTHER = "other"


@dataclass
class CostSeries:
    """Daily cost per dimension value, in one currency."""

    dimension: str
    currency: str
    days: list[datetime] = field(default_factory=list)
    series: dict[str, list[Decimal]] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((sum(values, Decimal(0)) for values in self.series.values()), Decimal(0))


def daily_cost(
    sink: Sink, table: str, *, by: str = "ServiceName", measure: str = "EffectiveCost",
    top: int = 8,
) -> list[CostSeries]:
    """One ``CostSeries`` per billing currency, days ascending, top values plus "other"."""
    for name in (by, measure):
        if lookup(name) is None and not name.startswith("x_"):
            raise ConfigError(f"unknown column {name!r}: expected a FOCUS or x_ column")
    column = lookup(measure)
    if column is not None and column.data_type is not DataType.DECIMAL:
        raise ConfigError(f"--measure {measure!r} is a {column.data_type} column: expected a "
                          "numeric cost column such as EffectiveCost, BilledCost or ListCost")
    day = f"date_trunc('day', {quote('ChargePeriodStart')})"
    statement = (
        f"SELECT {day} AS day, {quote('BillingCurrency')} AS currency, "
        f"COALESCE(CAST({quote(by)} AS VARCHAR), '(none)') AS key, SUM({quote(measure)}) AS cost "
        f"FROM {{table}} GROUP BY 1, 2, 3 ORDER BY 1"
    )
    rows = sink.query(table, statement).to_pylist()
    by_currency: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        by_currency[str(row["currency"])].append(row)
    return [_series(by, currency, items, top) for currency, items in sorted(by_currency.items())]


def _series(by: str, currency: str, rows: list[dict[str, object]], top: int) -> CostSeries:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[str(row["key"])] += Decimal(str(row["cost"] or 0))
    ranked = sorted(totals, key=lambda k: totals[k], reverse=True)
    keep = set(ranked[:top])
    days = sorted({row["day"] for row in rows})  # type: ignore[type-var]
    index = {d: i for i, d in enumerate(days)}
    names = [k for k in ranked if k in keep] + ([OTHER] if len(ranked) > top else [])
    series = {name: [Decimal(0)] * len(days) for name in names}
    for row in rows:
        key = str(row["key"])
        series[key if key in keep else OTHER][index[row["day"]]] += Decimal(str(row["cost"] or 0))
    return CostSeries(by, currency, days, series)  # type: ignore[arg-type]


def plot_cost(series: CostSeries, out: Path, title: str | None = None) -> Path:
    """A stacked-area PNG of ``series`` (needs the ``plots`` extra: matplotlib)."""
    try:
        import matplotlib as mpl  # noqa: PLC0415 - optional, heavy
        mpl.use("Agg")
        import matplotlib.dates as mdates  # noqa: PLC0415
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtraError("matplotlib", "plots") from exc
    figure, axes = plt.subplots(figsize=(11, 5.5), dpi=110)
    values = [[float(v) for v in values] for values in series.series.values()]
    x = mdates.date2num(series.days)  # type: ignore[no-untyped-call]
    axes.stackplot(x, values, labels=list(series.series), alpha=0.85)
    axes.xaxis_date()
    axes.set_title(title or f"Daily cost by {series.dimension} ({series.currency})")
    axes.set_ylabel(f"cost ({series.currency})")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", fontsize="small", ncol=2)
    figure.autofmt_xdate()
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)
    return out
