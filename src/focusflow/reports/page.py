"""Render a ``CostReport`` as one self-contained HTML file (reports layer).

The page embeds everything it needs: plotly.js from the pinned ``plotly`` wheel (the
``report`` extra), the page's own script and style (``reports/assets``), and the report's
aggregates as JSON in a ``<script type="application/json">`` block. It loads nothing at view
time, so it opens from disk, from a mail attachment or from a bucket. Tables are rendered here
with every text escaped; money is shown to the cent (half up), per currency.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from importlib import metadata, resources
from typing import Any

from focusflow.errors import MissingExtraError
from focusflow.reports.anomalies import METHOD
from focusflow.reports.model import (
    Commitment,
    CostReport,
    CurrencyTotal,
    DailySeries,
    Idle,
    Mover,
)

CENT = Decimal("0.01")
COMMITMENTS = 20  # commitments listed per currency (the totals cover all)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def money(value: Decimal) -> str:
    return f"{cents(value):,.2f}"


def percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def plotly_js() -> tuple[str, str]:
    """plotly.js as shipped in the ``plotly`` wheel, and the wheel's version."""
    try:
        version = metadata.version("plotly")
        script = (resources.files("plotly") / "package_data" / "plotly.min.js").read_text(
            encoding="utf-8")
    except (metadata.PackageNotFoundError, ModuleNotFoundError, FileNotFoundError) as exc:
        raise MissingExtraError("plotly", "report") from exc
    return script, version


def _asset(name: str) -> str:
    return (resources.files("focusflow.reports") / "assets" / name).read_text(encoding="utf-8")


def _series(series: DailySeries) -> dict[str, Any]:
    return {"currency": series.currency, "days": [d.isoformat() for d in series.days],
            "series": {k: [float(cents(v)) for v in values]
                       for k, values in series.series.items()}}


def chart_data(report: CostReport) -> dict[str, Any]:
    """The JSON the page's script draws from (aggregates only, money rounded to the cent)."""
    period = report.period
    data: dict[str, Any] = {
        "period": {"start": period.start.date().isoformat(),
                   "end": period.end.date().isoformat(),
                   "previousStart": period.previous_start.date().isoformat()},
        "totals": [{"currency": t.currency, "billed": str(cents(t.billed)),
                    "effective": str(cents(t.effective)), "rows": t.rows,
                    "previousBilled": str(cents(t.previous_billed)),
                    "previousEffective": str(cents(t.previous_effective)),
                    "previousRows": t.previous_rows} for t in report.totals],
        "daily": {label: [_series(s) for s in all_series]
                  for label, all_series in report.daily.items()},
        "dailyTotals": {c: _series(s) for c, s in report.daily_totals.items()},
        "anomalies": [{"currency": a.currency, "day": a.day.isoformat(),
                       "cost": float(cents(a.cost)), "median": float(cents(a.median))}
                      for a in report.anomalies],
        "commitments": None if report.commitments is None else [
            {"currency": c.currency, "name": commitment_label(c), "used": float(cents(c.used)),
             "unused": float(cents(c.unused))} for c in top_commitments(report.commitments)],
        "kubernetes": None,
    }
    if report.kubernetes is not None:
        data["kubernetes"] = {"namespaces": [
            {"currency": s.currency, "cluster": s.cluster, "namespace": s.key,
             "cost": float(cents(s.cost))} for s in report.kubernetes.namespaces]}
    return data


def _json_script(data: dict[str, Any]) -> str:
    # "<" escaped so no string in the data can close the script element
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def _table(head: list[str], body: list[list[str]], cls: str = "") -> str:
    if not body:
        return '<p class="empty">No rows in this period.</p>'
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    rows = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in body)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{rows}</tbody></table>'


def _change(current: Decimal, previous: Decimal) -> str:
    delta = current - previous
    sign = "up" if delta > 0 else "down" if delta < 0 else "flat"
    relative = f" ({delta / previous * 100:+.1f} %)" if previous else ""
    return f'<span class="{sign}">{"+" if delta > 0 else ""}{money(delta)}{relative}</span>'


def _totals(totals: list[CurrencyTotal], report: CostReport) -> str:
    cards = []
    for t in totals:
        cards.append(
            f'<div class="card" data-currency="{escape(t.currency)}">'
            f"<h3>{escape(t.currency)}</h3>"
            f'<p class="big"><span class="effective">{money(t.effective)}</span> effective</p>'
            f"<p>{_change(t.effective, t.previous_effective)} vs "
            f'<span class="previous-effective">{money(t.previous_effective)}</span> '
            f"in {escape(report.period.previous_label)}</p>"
            f'<p><span class="billed">{money(t.billed)}</span> billed, '
            f"{_change(t.billed, t.previous_billed)} vs "
            f'<span class="previous-billed">{money(t.previous_billed)}</span></p>'
            f'<p class="muted">{t.rows:,} rows (previous {t.previous_rows:,})</p></div>')
    return "".join(cards) or '<p class="empty">No charges in either period.</p>'


def _movers(movers: dict[str, list[Mover]]) -> str:
    parts = []
    for label, items in movers.items():
        body = [[escape(m.currency), escape(m.label if m.label == m.key else
                                             f"{m.label} ({m.key})"),
                 money(m.previous), money(m.current), _change(m.current, m.previous)]
                for m in items]
        parts.append(f"<h3>By {escape(label)}</h3>" + _table(
            ["currency", label, "previous", "current", "change"], body, "movers"))
    return "".join(parts)


def _idle_rows(items: list[Idle], with_node: bool) -> list[list[str]]:
    rows = []
    for i in items:
        flag = (f'<span class="flag">unpriced: {i.unpriced_hours} default-priced node-hours'
                f"</span>" if i.unpriced_hours else "")
        row = [escape(i.currency), escape(i.cluster)]
        if with_node:
            row.append(escape(i.node or ""))
        rows.append([*row, money(i.total), money(i.idle), percent(i.share), flag])
    return rows


def _kubernetes(report: CostReport) -> str:
    k8s = report.kubernetes
    if k8s is None:
        return ('<p class="empty">No allocation table given (<code>--allocation-table</code>, '
                "the output of <code>focusflow allocate</code>).</p>")
    workloads = [[escape(s.currency), escape(s.cluster), escape(s.key), money(s.cost)]
                 for s in k8s.workloads]
    return (
        f'<p class="muted">From <code>{escape(k8s.table)}</code>; idle is each node\'s '
        f"<code>__idle__</code> cost, unpriced nodes were priced from the default sheet "
        f"because no billing row matched them.</p>"
        '<div class="chart" id="namespaces"></div>'
        "<h3>Top workloads</h3>"
        + _table(["currency", "cluster", "namespace workload", "cost"], workloads)
        + "<h3>Idle share per cluster</h3>"
        + _table(["currency", "cluster", "cost", "idle", "idle share", ""],
                 _idle_rows(k8s.clusters, False), "idle-clusters")
        + "<h3>Idle share per node</h3>"
        + _table(["currency", "cluster", "node", "cost", "idle", "idle share", ""],
                 _idle_rows(k8s.nodes, True), "idle-nodes"))


def commitment_label(commitment: Commitment) -> str:
    """Name and the end of the id: names repeat (one per purchase), ids do not."""
    tail = re.split(r"[/:]", commitment.id)[-1][-12:]
    return commitment.name if commitment.name == commitment.id else f"{commitment.name} …{tail}"


def top_commitments(commitments: list[Commitment]) -> list[Commitment]:
    """The ``COMMITMENTS`` largest of each currency (the list comes largest first)."""
    seen: dict[str, int] = {}
    kept = []
    for c in commitments:
        seen[c.currency] = seen.get(c.currency, 0) + 1
        if seen[c.currency] <= COMMITMENTS:
            kept.append(c)
    return kept


def _commitments(report: CostReport) -> str:
    if report.commitments is None:
        return '<p class="empty">The table has no commitment status columns.</p>'
    totals: dict[str, Commitment] = {}
    for c in report.commitments:
        t = totals.get(c.currency, Commitment(c.currency, "", "", Decimal(0), Decimal(0)))
        totals[c.currency] = replace(t, used=t.used + c.used, unused=t.unused + c.unused)
    counts = Counter(c.currency for c in report.commitments)
    summary = [[escape(t.currency), f"all {counts[t.currency]:,} commitments",
                money(t.used), money(t.unused), percent(t.utilisation)]
               for t in totals.values()]
    body = [[escape(c.currency), escape(c.name), f"<code>{escape(c.id)}</code>", money(c.used),
             money(c.unused), percent(c.utilisation)] for c in top_commitments(report.commitments)]
    return ('<div class="chart" id="commitments"></div>'
            + _table(["currency", "commitments", "used", "unused", "utilisation"], summary,
                     "commitment-totals")
            + f"<h3>The {COMMITMENTS} largest per currency</h3>"
            + _table(["currency", "commitment", "id", "used", "unused", "utilisation"], body))


def _quality(report: CostReport) -> str:
    q = report.quality
    parts = [f"<p><strong>{q.rows_total:,}</strong> rows in "
             f"<code>{escape(report.table)}</code>.</p>"]
    if q.sources is None:
        parts.append('<p class="empty">This sink keeps no loads registry to read.</p>')
    else:
        parts.append(_table(
            ["source", "loads", "rows written", "first load", "last load"],
            [[escape(s.source_id), f"{s.loads:,}", f"{s.rows_written:,}",
              escape(_when(s.first_loaded)), escape(_when(s.last_loaded))]
             for s in q.sources], "loads"))
    parts.append(f"<p>Last validation: {escape(q.validation)}</p>" if q.validation else
                 '<p class="muted">No validation summary is recorded in this database; run '
                 "<code>focusflow validate</code> on the source files.</p>")
    return "".join(parts)


def _when(moment: datetime | date) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if isinstance(moment, datetime) else str(moment)


def _anomalies(report: CostReport) -> str:
    body = [[escape(a.currency), a.day.isoformat(), money(a.cost), money(a.median),
             money(a.mad), "—" if a.score is None else f"{a.score:+.1f}"]
            for a in report.anomalies]
    return (f'<p class="muted">Method: {escape(METHOD)}. Marked ✕ on the daily chart.</p>'
            + _table(["currency", "day", "cost", "median", "MAD", "robust z"], body,
                     "anomalies"))


def render(report: CostReport) -> str:
    """The whole page."""
    script, version = plotly_js()
    period = report.period
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    dims = "".join(f'<option value="{escape(d)}">{escape(d)}</option>' for d in report.daily)
    # the currency with the most cost is drawn first
    currencies = "".join(f'<option value="{escape(t.currency)}">{escape(t.currency)}</option>'
                         for t in sorted(report.totals, key=lambda t: -t.effective))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="focusflow report; plotly.js from plotly {escape(version)}">
<title>Cost report: {escape(report.table)}, {escape(period.label)}</title>
<style>{_asset("report.css")}</style>
</head><body>
<header><h1>Cost report <small>{escape(period.label)}</small></h1>
<p class="muted">Table <code>{escape(report.table)}</code> · period {escape(period.label)}
compared with {escape(period.previous_label)} (by <code>ChargePeriodStart</code>, UTC) ·
generated {escape(_when(report.generated_at))} in {report.seconds:.2f} s · amounts per
billing currency, never summed across currencies</p></header>
<section id="totals"><h2>Totals</h2><div class="cards">{_totals(report.totals, report)}</div>
</section>
<section id="daily-section"><h2>Daily effective cost</h2>
<label>Split by <select id="dimension">{dims}</select></label>
<label>Currency <select id="currency">{currencies}</select></label>
<span class="muted">top {report.top} values, the rest as "(other)"</span>
<div class="chart" id="daily"></div></section>
<section id="anomalies"><h2>Anomalies</h2>{_anomalies(report)}</section>
<section id="movers"><h2>Top movers</h2>
<p class="muted">Effective cost, {escape(period.label)} vs {escape(period.previous_label)}.</p>
{_movers(report.movers)}</section>
<section id="commitments-section"><h2>Commitment discounts</h2>{_commitments(report)}</section>
<section id="kubernetes"><h2>Kubernetes</h2>{_kubernetes(report)}</section>
<section id="quality"><h2>Data quality</h2>{_quality(report)}</section>
{f'<section id="notes"><h2>Notes</h2><ul>{notes}</ul></section>' if notes else ""}
<script type="application/json" id="focusflow-data">{_json_script(chart_data(report))}</script>
<script>{script}</script>
<script>{_asset("report.js")}</script>
</body></html>
"""
