"""Reports over loaded FOCUS tables: cost over time as data and as a chart."""

from focusflow.reports.cost_over_time import CostSeries, daily_cost, plot_cost

__all__ = ["CostSeries", "daily_cost", "plot_cost"]
