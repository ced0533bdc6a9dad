"""Kubernetes cost allocation, OpenCost-style, producing FOCUS-shaped rows (allocation layer).

Node prices come from FOCUS billing rows (``billing``, matched by ``matching``) or a price sheet
(``prices``); hourly metrics from a Prometheus-compatible API (``metrics``, through the export
job's client; ``ahead`` asks them in a worker thread, in order; ``placement`` reads and joins
the container-level answers in DuckDB); ``model`` splits each node-hour's cost over its
containers (max(request, usage), over-allocation scaled down, the rest ``__idle__``); ``rows``
shapes FOCUS rows and ``job`` loads them with the ingest load semantics. ``focusflow allocate``
runs ``run_allocation``.

The names below are imported on first use: ``focusflow allocate`` asks its first queries
after importing only ``settings``, ``metrics`` and ``ahead``, and loads DuckDB and Arrow while
Prometheus answers them.
"""

from typing import TYPE_CHECKING

from focusflow.lazy import lazy_exports

if TYPE_CHECKING:
    from focusflow.allocation.billing import BillingIndex, read_billing_file, read_billing_table
    from focusflow.allocation.job import AllocationReport, default_source_id, run_allocation
    from focusflow.allocation.metrics import ClusterMetrics
    from focusflow.allocation.model import IDLE, Allocation, NodeHour, Workload, allocate
    from focusflow.allocation.prices import DefaultPrices, load_default_prices, unit_prices
    from focusflow.allocation.rows import SCHEMA
    from focusflow.allocation.settings import (
        CHUNK_HOURS,
        AllocationSettings,
        allocation_settings,
        prometheus_settings,
    )

_MODULES = {
    "billing": ("BillingIndex", "read_billing_file", "read_billing_table"),
    "job": ("AllocationReport", "default_source_id", "run_allocation"),
    "metrics": ("ClusterMetrics",),
    "model": ("IDLE", "Allocation", "NodeHour", "Workload", "allocate"),
    "prices": ("DefaultPrices", "load_default_prices", "unit_prices"),
    "rows": ("SCHEMA",),
    "settings": ("CHUNK_HOURS", "AllocationSettings", "allocation_settings",
                 "prometheus_settings"),
}
__getattr__ = lazy_exports(__name__, {name: module for module, names in _MODULES.items()
                                      for name in names})

__all__ = [
    "CHUNK_HOURS",
    "IDLE",
    "SCHEMA",
    "Allocation",
    "AllocationReport",
    "AllocationSettings",
    "BillingIndex",
    "ClusterMetrics",
    "DefaultPrices",
    "NodeHour",
    "Workload",
    "allocate",
    "allocation_settings",
    "default_source_id",
    "load_default_prices",
    "prometheus_settings",
    "read_billing_file",
    "read_billing_table",
    "run_allocation",
    "unit_prices",
]
