"""Azure Monitor metrics of one resource (Krateo's ``resource`` metric type) as typed rows.

Layer: ``sources``. ``MetricsQuery`` names the resource, metric names, interval and a look-back;
``sliding_timespan`` computes ``<start>/<end>`` at each poll (Krateo renders it once, at deploy
time, so its window never moves). ``fetch_metrics`` GETs
``{resourceId}/providers/microsoft.insights/metrics`` through ``ArmClient`` (token, 401, 429)
and returns one row per point: ResourceId, metricName, timestamp, the aggregation (``average``
by default; a point without a value stays NULL, never 0) and unit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, field_validator

from focusflow.errors import ConfigError, SourceError
from focusflow.focus import TIMESTAMP
from focusflow.sources.azure.arm import ArmClient, shown

API_VERSION = "2023-10-01"
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.I)


def parse_iso_duration(text: str) -> timedelta:
    """``PT15M``, ``PT1H``, ``P1D``, ``P1DT12H`` (days, hours, minutes, seconds only)."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        raise ValueError(f"expected an ISO 8601 duration such as PT15M or P1D, got {text!r}")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


class MetricsQuery(BaseModel):
    """Which metrics of which resource, at what interval, over how long a sliding window."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    resource_id: str
    metric_names: tuple[str, ...]
    interval: str = "PT15M"
    lookback: str = "P1D"
    aggregation: str = "Average"
    api_version: str = API_VERSION

    @field_validator("resource_id")
    @classmethod
    def _resource(cls, value: str) -> str:
        value = "/" + value.strip().strip("/")
        if not value.lower().startswith("/subscriptions/") or "/providers/" not in value.lower():
            raise ValueError(f"expected /subscriptions/.../providers/<type>/<name>, got {value!r}")
        return value

    @field_validator("metric_names", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        names = tuple(str(v).strip() for v in value if str(v).strip())
        if not names:
            raise ValueError("at least one metric name is needed")
        return names

    @field_validator("interval", "lookback")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_iso_duration(value)
        return value.strip().upper()


def sliding_timespan(query: MetricsQuery, now: float) -> str:
    """``start/end`` ending at ``now`` rounded down to the interval (whole buckets only)."""
    step = parse_iso_duration(query.interval).total_seconds()
    end = datetime.fromtimestamp(now - now % step, UTC)
    start = end - parse_iso_duration(query.lookback)
    return f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"


def _schema(value_column: str) -> pa.Schema:
    return pa.schema([("ResourceId", pa.string()), ("metricName", pa.string()),
                      ("timestamp", TIMESTAMP), (value_column, pa.float64()),
                      ("unit", pa.string())])


def fetch_metrics(
    client: ArmClient, query: MetricsQuery, *, clock: Callable[[], float] = time.time,
) -> pa.Table:
    """One poll: the points of every metric in the window ending now."""
    url = client.url(f"{query.resource_id}/providers/microsoft.insights/metrics")
    params = {"api-version": query.api_version, "metricnames": ",".join(query.metric_names),
              "timespan": sliding_timespan(query, clock()), "interval": query.interval,
              "aggregation": query.aggregation}
    response = client.request("GET", url, params=params)
    try:
        payload = orjson.loads(response.content)
        return metrics_table(payload, query)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise SourceError(f"{shown(url)}: unexpected Azure Monitor answer") from exc


def metrics_table(payload: dict[str, Any], query: MetricsQuery) -> pa.Table:
    """Rows from a metrics response body (reference/azure.md section 5)."""
    key = query.aggregation.lower()
    columns: dict[str, list[Any]] = {"ResourceId": [], "metricName": [], "timestamp": [],
                                     key: [], "unit": []}
    for metric in payload["value"]:
        name = str(metric["name"]["value"])
        if metric.get("errorCode") not in (None, "Success"):
            raise ConfigError(f"metric {name!r} of {query.resource_id}: "
                              f"{metric.get('errorCode')} {metric.get('errorMessage', '')}")
        for series in metric.get("timeseries") or []:
            for point in series.get("data") or []:
                value = point.get(key)
                columns["ResourceId"].append(query.resource_id)
                columns["metricName"].append(name)
                columns["timestamp"].append(datetime.fromisoformat(
                    str(point["timeStamp"]).replace("Z", "+00:00")))
                columns[key].append(None if value is None else float(value))  # gap: NULL
                columns["unit"].append(str(metric.get("unit") or ""))
    return pa.table(columns, schema=_schema(key))
