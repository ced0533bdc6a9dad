"""Kubernetes metrics export (jobs layer): Prometheus-compatible API → gzip JSON in S3.

A drop-in for Finout's documented CronJob: the same environment variables and key layout,
resumable through a state object in the bucket, with backfill, retention, all auth modes and
the quirks of Thanos, Mimir and VictoriaMetrics. ``focusflow k8s-export`` runs ``run_export``.
The names below are imported on first use (``focusflow allocate`` reads only the client and
its settings, without boto3).
"""

from typing import TYPE_CHECKING

from focusflow.lazy import lazy_exports

if TYPE_CHECKING:
    from focusflow.k8s_export.catalogue import CATALOGUE, DEFAULT_METRICS, MetricQuery
    from focusflow.k8s_export.job import ExportReport, encode_file, plan, run_export
    from focusflow.k8s_export.layout import Window, object_key, partition, state_key
    from focusflow.k8s_export.prometheus import PrometheusClient, RangeResult, auth_headers
    from focusflow.k8s_export.settings import ExportSettings, load_settings
    from focusflow.k8s_export.state import ExportState, read_state
    from focusflow.k8s_export.storage import LocalStore, ObjectStore, S3Store, open_store

_MODULES = {
    "catalogue": ("CATALOGUE", "DEFAULT_METRICS", "MetricQuery"),
    "job": ("ExportReport", "encode_file", "plan", "run_export"),
    "layout": ("Window", "object_key", "partition", "state_key"),
    "prometheus": ("PrometheusClient", "RangeResult", "auth_headers"),
    "settings": ("ExportSettings", "load_settings"),
    "state": ("ExportState", "read_state"),
    "storage": ("LocalStore", "ObjectStore", "S3Store", "open_store"),
}
__getattr__ = lazy_exports(__name__, {name: module for module, names in _MODULES.items()
                                      for name in names})

__all__ = [
    "CATALOGUE",
    "DEFAULT_METRICS",
    "ExportReport",
    "ExportSettings",
    "ExportState",
    "LocalStore",
    "MetricQuery",
    "ObjectStore",
    "PrometheusClient",
    "RangeResult",
    "S3Store",
    "Window",
    "auth_headers",
    "encode_file",
    "load_settings",
    "object_key",
    "open_store",
    "partition",
    "plan",
    "read_state",
    "run_export",
    "state_key",
]
