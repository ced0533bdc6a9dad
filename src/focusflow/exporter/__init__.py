"""The Krateo-compatible exporter: a source served as Prometheus metrics and lossless rows.

Layer: ``exporter`` (above ``sources``/``sinks``, below ``operator``/``cli``). ``config`` parses
Krateo's ``exporterConfig``; ``decode`` turns responses into rows; ``exposition`` renders
``/metrics`` with vectorised Arrow kernels (``duplicates`` finds repeated label sets);
``snapshot`` holds the rows once and publishes atomically; ``service`` polls and serves;
``build_source`` picks the source a config names.
"""

from focusflow.exporter.config import (
    ExporterConfig,
    GenericConfig,
    LabelNames,
    MetricType,
    load_exporter_config,
)
from focusflow.exporter.service import Exporter
from focusflow.exporter.snapshot import ARROW_STREAM, Snapshot
from focusflow.exporter.sources import build_source

__all__ = [
    "ARROW_STREAM",
    "Exporter",
    "ExporterConfig",
    "GenericConfig",
    "LabelNames",
    "MetricType",
    "Snapshot",
    "build_source",
    "load_exporter_config",
]
