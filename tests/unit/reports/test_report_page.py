"""The page: money to the cent (half up), text escaped in tables and in the embedded JSON."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

from focusflow.reports import CostReport, explicit_period, render
from focusflow.reports.model import CurrencyTotal, DailySeries, Mover, Quality
from focusflow.reports.page import cents, money

HOSTILE = '</script><script>document.title="x"</script>'


def report() -> CostReport:
    period = explicit_period(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
    daily = DailySeries("EUR", [date(2026, 5, 1)], {HOSTILE: [Decimal("1.005")]})
    return CostReport(
        table="focus", period=period, generated_at=datetime(2026, 6, 2, tzinfo=UTC), top=8,
        totals=[CurrencyTotal("EUR", Decimal("10.005"), Decimal("2.004999"), 3,
                              Decimal(0), Decimal(0), 0)],
        daily={"service": [daily]}, daily_totals={}, anomalies=[],
        movers={"service": [Mover("EUR", HOSTILE, HOSTILE, Decimal("1.005"), Decimal(0))]},
        commitments=None, kubernetes=None, quality=Quality(3, []))


def test_money_is_rounded_half_up_to_the_cent() -> None:
    assert cents(Decimal("1.005")) == Decimal("1.01")
    assert money(Decimal("-1234.565")) == "-1,234.57"
    assert money(Decimal("2.004999")) == "2.00"


def test_text_cannot_leave_its_element() -> None:
    page = render(report())
    assert HOSTILE not in page
    assert "&lt;/script&gt;&lt;script&gt;" in page  # the movers table shows it as text
    block = re.search(r'id="focusflow-data">(.*?)</script>', page, re.S)
    assert block is not None and "<" not in block[1]
    data = json.loads(block[1])
    assert list(data["daily"]["service"][0]["series"]) == [HOSTILE]
    assert data["totals"][0]["billed"] == "10.01" and data["totals"][0]["effective"] == "2.00"
    assert "May 2026" in page and "April 2026" in page
