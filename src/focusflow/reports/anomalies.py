"""Anomalous days: daily cost far from its trailing median (reports layer).

Method (stated on the page as ``METHOD``): for each day, the baseline is the median of the
daily totals of the 14 days before it (days with charges only; at least 7 needed) and the
spread is their median absolute deviation (MAD). A day is an anomaly when it departs from the
median by more than 3.5 robust standard deviations (1.4826 * MAD) and by more than 10 % of the
median; the second test keeps a flat series (MAD 0) from flagging cent-sized wiggles. Robust
statistics, unlike a mean and standard deviation, are not dragged by the spikes they look for.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from statistics import median

from focusflow.reports.model import Anomaly, DailySeries

WINDOW_DAYS = 14
MIN_DAYS = 7
THRESHOLD = Decimal("3.5")
MAD_SCALE = Decimal("1.4826")
MIN_RELATIVE = Decimal("0.10")
METHOD = (f"daily cost vs the median of the {WINDOW_DAYS} days before (at least {MIN_DAYS}); "
          f"anomaly when |cost - median| > {THRESHOLD} * {MAD_SCALE} * MAD "
          f"and > {int(MIN_RELATIVE * 100)} % of the median")


def find_anomalies(totals: DailySeries, since: date) -> list[Anomaly]:
    """The anomalous days on or after ``since`` of one currency's daily totals."""
    values = dict(zip(totals.days, next(iter(totals.series.values()), []), strict=False))
    found = []
    for day, cost in sorted(values.items()):
        if day < since:
            continue
        window = [values[d] for d in (day - timedelta(days=i) for i in range(1, WINDOW_DAYS + 1))
                  if d in values]
        if len(window) < MIN_DAYS:
            continue
        centre = Decimal(median(window))
        mad = Decimal(median([abs(v - centre) for v in window]))
        departure = abs(cost - centre)
        if departure > THRESHOLD * MAD_SCALE * mad and departure > MIN_RELATIVE * abs(centre):
            score = float((cost - centre) / (MAD_SCALE * mad)) if mad else None
            found.append(Anomaly(totals.currency, day, cost, centre, mad, score))
    return found
