"""Reports over loaded FOCUS tables: cost over time as a PNG, and the HTML cost report."""

from focusflow.reports.cost_over_time import CostSeries, daily_cost, plot_cost
from focusflow.reports.cost_report import build_report, choose_period
from focusflow.reports.model import CostReport
from focusflow.reports.page import render
from focusflow.reports.period import Period, default_period, explicit_period

__all__ = [
    "CostReport",
    "CostSeries",
    "Period",
    "build_report",
    "choose_period",
    "daily_cost",
    "default_period",
    "explicit_period",
    "plot_cost",
    "render",
]
