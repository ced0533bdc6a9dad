"""Krateo's own ways of writing an ExporterScraperConfig, read as Krateo's operators read them.

Layer: ``operator``. krateoplatformops/finops-operator-focus generates ExporterScraperConfigs
from Go structs without ``omitempty`` (``internal/utils/utils.go``), so the API server stores
fields a person would leave out:

- ``scraperConfig`` of an exporter-only group (FocusConfigs without ``scraperConfig``) is all
  zero values: ``tableName: ""``, ``pollingInterval: 0s``, ``metricType: ""``,
  ``scraperDatabaseConfigRef: {name: "", namespace: ""}``, ``api: {}``.
  finops-operator-exporter treats exactly that as "no scraper"
  (``GetGenericExporterScraperConfig``);
- ``scraperConfig.metricType: ""`` in every group (the operator copies the exporter's anyway);
- ``exporterConfig.pollingInterval: 0s`` in exporter-only groups. operator-focus itself reads a
  zero interval as 5 minutes for the groups it schedules; Krateo's exporter would poll in a hot
  loop. focusflow uses 5 minutes;
- ``exporterConfig.provider: {name: "", namespace: ""}`` (a legacy field nothing reads).

``normalized`` rewrites such a CR into what it means before the operator's models check it, so
these CRs render and run; the pods read the normalized spec.
"""

from __future__ import annotations

import copy
import re
from typing import Any

Manifest = dict[str, Any]

ZERO_POLLING_DEFAULT = "5m"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def is_zero_duration(value: Any) -> bool:
    """True for ``0s``, ``0``, ``0m0s``... (Go's zero ``metav1.Duration``), not for ``""``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    if not isinstance(value, str) or not value.strip():
        return False
    text = value.strip()
    if text == "0":
        return True
    parts = _DURATION_PART.findall(text)
    return "".join(n + u for n, u in parts) == text and all(float(n) == 0 for n, _ in parts)


def _empty_ref(ref: Any) -> bool:
    return ref is None or (isinstance(ref, dict) and not ref.get("name")
                           and not ref.get("namespace"))


def is_empty_scraper(scraper: Any) -> bool:
    """finops-operator-exporter's test for "no scraper": every field at its zero value."""
    if not isinstance(scraper, dict):
        return scraper is None
    return (not scraper.get("tableName") and not scraper.get("metricType")
            and (scraper.get("pollingInterval") in (None, "")
                 or is_zero_duration(scraper.get("pollingInterval")))
            and _empty_ref(scraper.get("scraperDatabaseConfigRef"))
            and not (scraper.get("api") or {}).get("endpointRef"))


def normalized(body: Manifest) -> Manifest:
    """An ExporterScraperConfig with Krateo's zero values read as above (a copy)."""
    out = copy.deepcopy(body)
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    exporter = spec.get("exporterConfig")
    if isinstance(exporter, dict):
        if is_zero_duration(exporter.get("pollingInterval")):
            exporter["pollingInterval"] = ZERO_POLLING_DEFAULT
        if _empty_ref(exporter.get("provider")) and "provider" in exporter:
            del exporter["provider"]
    scraper = spec.get("scraperConfig")
    if "scraperConfig" in spec and is_empty_scraper(scraper):
        del spec["scraperConfig"]
    elif isinstance(scraper, dict):
        if scraper.get("metricType") == "":
            del scraper["metricType"]
        if scraper.get("api") == {}:
            del scraper["api"]
    return out
