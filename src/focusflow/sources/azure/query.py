"""Cost Management Query API source: aggregated Azure costs as FOCUS-shaped typed rows.

Layer: ``sources``. ``CostQuery`` is the typed request (scope, ``ActualCost``/``AmortizedCost``,
timeframe or custom period, granularity, grouping); ``query_pages`` POSTs it and follows every
``nextLink`` by POSTing the same body again (the SDK's classic truncation bug); rows are mapped
by column **name**, never position. ``to_focus`` turns pages into FOCUS 1.2 columns as far as
the Query API allows (the table is in ``docs/azure.md``): unmapped FOCUS columns stay null and
Azure-only fields become ``x_`` columns. Throttling and 401 handling live in ``ArmClient``.

As an ingest location: ``azcost://<scope>?type=ActualCost&timeframe=MonthToDate&groupBy=...``
(see ``parse_query_uri``); the load's source identity is the scope and cost type, so re-running
a month replaces that month.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from focusflow.errors import ConfigError, InputError, SourceError
from focusflow.focus import HttpOptions, resolve_header
from focusflow.focus.conversion import Reject, convert_batch
from focusflow.focus.schema import Layout
from focusflow.sources.azure.arm import ArmClient, shown
from focusflow.sources.azure.credentials import AzureSettings, token_source

log = logging.getLogger(__name__)

API_VERSION = "2025-03-01"
FOCUS_VERSION = "1.2"
_SCOPES = [
    re.compile(r"^subscriptions/[^/]+$", re.I),
    re.compile(r"^subscriptions/[^/]+/resourceGroups/[^/]+$", re.I),
    re.compile(r"^providers/Microsoft\.Billing/billingAccounts/[^/]+"
               r"(/(departments|enrollmentAccounts|billingProfiles|customers)/[^/]+)?"
               r"(/invoiceSections/[^/]+)?$", re.I),
    re.compile(r"^providers/Microsoft\.Management/managementGroups/[^/]+$", re.I),
]
SCOPE_FORMS = ("subscriptions/{id}", "subscriptions/{id}/resourceGroups/{name}",
               "providers/Microsoft.Billing/billingAccounts/{id}[/billingProfiles/{id}...]",
               "providers/Microsoft.Management/managementGroups/{id}")


class CostQuery(BaseModel):
    """One Query API request (field names as in the REST body where they match)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    scope: str
    type: Literal["ActualCost", "AmortizedCost", "Usage"] = "ActualCost"
    timeframe: Literal["MonthToDate", "BillingMonthToDate", "TheLastMonth",
                       "TheLastBillingMonth", "WeekToDate", "Custom",
                       "TheCurrentMonth"] = "MonthToDate"
    time_from: date | None = Field(default=None, alias="from")
    time_to: date | None = Field(default=None, alias="to")
    granularity: Literal["Daily", "Monthly", "None"] = "Daily"
    group_by: tuple[str, ...] = ("ResourceId", "ServiceName")
    api_version: str = API_VERSION

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        value = value.strip().strip("/")
        if not any(pattern.match(value) for pattern in _SCOPES):
            raise ValueError(f"unknown scope {value!r}; expected one of: "
                             + "; ".join(SCOPE_FORMS))
        return value

    @field_validator("group_by", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        return tuple(str(v).strip() for v in value)

    @model_validator(mode="after")
    def _period(self) -> Self:
        if (self.timeframe == "Custom") != (self.time_from is not None):
            raise ValueError("timeframe Custom needs from and to; other timeframes take neither")
        if self.time_from and (self.time_to is None or self.time_to < self.time_from):
            raise ValueError("'to' must be given and not before 'from'")
        return self

    def body(self) -> dict[str, Any]:
        """The JSON body (``dataset`` lower-case here; exports say ``dataSet``)."""
        cost = "PreTaxCost" if self.type == "Usage" else "Cost"
        dataset: dict[str, Any] = {
            "aggregation": {"totalCost": {"name": cost, "function": "Sum"},
                            "totalCostUSD": {"name": f"{cost}USD", "function": "Sum"}},
            "grouping": [
                {"type": "TagKey", "name": g[4:]} if g.lower().startswith("tag:")
                else {"type": "Dimension", "name": g} for g in self.group_by],
        }
        if self.granularity != "None":
            dataset["granularity"] = self.granularity
        body: dict[str, Any] = {"type": self.type, "timeframe": self.timeframe,
                                "dataset": dataset}
        if self.time_from and self.time_to:
            # ``to`` is inclusive: the last day's rows belong to the period.
            body["timePeriod"] = {"from": f"{self.time_from.isoformat()}T00:00:00Z",
                                  "to": f"{self.time_to.isoformat()}T23:59:59Z"}
        return body

    def path(self) -> str:
        return (f"/{self.scope}/providers/Microsoft.CostManagement/query"
                f"?api-version={self.api_version}")


def parse_cost_query(data: dict[str, Any], *, where: str) -> CostQuery:
    """A ``CostQuery`` from config keys; ``ConfigError`` naming the field otherwise."""
    try:
        return CostQuery.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'query'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False))
        raise ConfigError(f"{where}: {problems}") from None


@dataclass(frozen=True)
class Page:
    """One page of a Query answer: column names and rows (numbers kept as exact text)."""

    columns: tuple[str, ...]
    rows: list[list[Any]]


def query_pages(client: ArmClient, query: CostQuery) -> Iterator[Page]:
    """Every page of the answer, following ``nextLink`` with the same POST body."""
    return post_pages(client, client.url(query.path()), query.body())


def post_pages(client: ArmClient, url: str | None, body: dict[str, Any]) -> Iterator[Page]:
    """POST ``body`` to ``url`` and to every ``nextLink`` after it; yield each page."""
    seen: set[str] = set()
    while url:
        if url in seen:  # a server repeating a link would loop forever
            raise SourceError(f"{shown(url)}: nextLink repeats itself")
        seen.add(url)
        response = client.request("POST", url, json=body)
        if response.status_code == 204 or not response.content:
            return
        try:
            # parse_float=str keeps the server's digits: costs go to decimals exactly.
            properties = json.loads(response.text, parse_float=str)["properties"]
            columns = tuple(str(c["name"]) for c in properties["columns"])
            rows = list(properties.get("rows") or [])
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(f"{shown(url)}: unexpected Query API answer") from exc
        log.debug("Query API page: %d rows, %d columns", len(rows), len(columns))
        yield Page(columns, rows)
        url = properties.get("nextLink") or None


# Query column -> FOCUS column, per cost type. Anything else becomes x_<name>.
_COMMON = {
    "Currency": "BillingCurrency", "ResourceId": "ResourceId", "ResourceType": "ResourceType",
    "ServiceName": "ServiceName", "SubscriptionId": "SubAccountId",
    "SubscriptionName": "SubAccountName", "BillingAccountId": "BillingAccountId",
    "Meter": "SkuMeter", "InvoiceNumber": "InvoiceId", "UsageQuantity": "ConsumedQuantity",
    "ReservationId": "CommitmentDiscountId", "ReservationName": "CommitmentDiscountName",
    "BenefitId": "CommitmentDiscountId", "BenefitName": "CommitmentDiscountName",
    "ResourceGroup": "x_ResourceGroupName", "ResourceGroupName": "x_ResourceGroupName",
    "MeterCategory": "x_SkuMeterCategory", "MeterSubcategory": "x_SkuMeterSubcategory",
    "MeterId": "x_SkuMeterId", "ResourceLocation": "x_ResourceLocation",
    "Frequency": "ChargeFrequency",
}
_COSTS = {
    "ActualCost": {"Cost": "BilledCost", "CostUSD": "x_BilledCostInUsd"},
    "AmortizedCost": {"Cost": "EffectiveCost", "CostUSD": "x_EffectiveCostInUsd"},
    "Usage": {"PreTaxCost": "BilledCost", "PreTaxCostUSD": "x_BilledCostInUsd"},
}
_FREQUENCY = {"onetime": "One-Time", "recurring": "Recurring", "usagebased": "Usage-Based"}
# Always present (null when the query cannot fill them), then the mapped page columns.
_DERIVED = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd",
            "BilledCost", "EffectiveCost", "BillingCurrency", "ProviderName", "Tags",
            "x_CostType")


def _mapping(cost_type: str) -> dict[str, str]:
    return {**_COMMON, **_COSTS.get(cost_type, _COSTS["ActualCost"])}


def focus_columns(cost_type: str, columns: Sequence[str]) -> list[str]:
    """The FOCUS header a page with ``columns`` becomes (stable for one query)."""
    mapping = _mapping(cost_type)
    out: list[str] = list(_DERIVED)
    for name in columns:
        if name in {"UsageDate", "BillingMonth", "TagKey", "TagValue"}:
            continue
        target = mapping.get(name, f"x_{name}")
        if target not in out:
            out.append(target)
    return out


def _day(value: Any, where: str) -> datetime:
    text = str(value).split(".")[0]
    try:
        if len(text) == 8 and text.isdigit():  # Daily: UsageDate is an integer YYYYMMDD
            return datetime(int(text[:4]), int(text[4:6]), int(text[6:]), tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))  # Monthly: BillingMonth
    except ValueError:
        raise InputError(f"expected a date (YYYYMMDD or ISO), found {value!r}", file=where,
                         column="UsageDate") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _next_month(value: datetime) -> datetime:
    return (value.replace(day=1) + timedelta(days=32)).replace(day=1)


def _row(cost_type: str, names: Sequence[str], values: Sequence[Any], where: str,
         mapping: dict[str, str]) -> dict[str, str | None]:
    by_name = dict(zip(names, values, strict=False))
    out: dict[str, str | None] = {"ProviderName": "Microsoft", "x_CostType": cost_type}
    when = by_name.get("UsageDate", by_name.get("BillingMonth"))
    if when is not None:
        start = _day(when, where)
        monthly = "UsageDate" not in by_name
        month = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        out["BillingPeriodStart"], out["BillingPeriodEnd"] = _iso(month), _iso(_next_month(month))
        out["ChargePeriodStart"] = _iso(start)
        out["ChargePeriodEnd"] = _iso(_next_month(start) if monthly else start + timedelta(1))
    if by_name.get("TagKey"):
        out["Tags"] = orjson.dumps({str(by_name["TagKey"]): by_name.get("TagValue")}).decode()
    for name, value in by_name.items():
        target = mapping.get(name, f"x_{name}")
        if name in {"UsageDate", "BillingMonth", "TagKey", "TagValue"} or target in out:
            continue
        text = None if value is None or value == "" else str(value)
        if target == "ChargeFrequency" and text is not None:
            text = _FREQUENCY.get(text.replace("-", "").replace(" ", "").lower())
        out[target] = text
    return out


class QueryStream:
    """The rows of one Cost Management query as typed FOCUS batches (a ``BatchStream``)."""

    def __init__(
        self, client: ArmClient, query: CostQuery | None, name: str, *,
        pages: Iterator[Page] | None = None, cost_type: str | None = None,
    ) -> None:
        if pages is None:
            if query is None:
                raise ValueError("QueryStream needs a query or pages")
            pages = query_pages(client, query)
        self.client = client
        self.cost_type = cost_type or (query.type if query else "ActualCost")
        self.name = name
        self.rows_read = 0
        self.rejects: list[Reject] = []
        self._hash = hashlib.sha256()
        self._pages = pages
        self._first: Page | None = next(self._pages, None)
        header = focus_columns(self.cost_type, self._first.columns if self._first else
                               ("Cost", "UsageDate", "Currency"))
        self.layout: Layout = resolve_header(header, file=name, version=FOCUS_VERSION,
                                             require_mandatory=False)
        self._finished = False

    @property
    def schema(self) -> pa.Schema:
        return self.layout.schema

    @property
    def focus_version(self) -> str:
        return FOCUS_VERSION

    @property
    def bytes_read(self) -> int:
        return 0

    @property
    def total_bytes(self) -> int | None:
        return None

    @property
    def fingerprint(self) -> str:
        if not self._finished:
            raise RuntimeError("the fingerprint is known only after every page was read")
        return self._hash.hexdigest()

    def batches(self) -> Iterator[pa.RecordBatch]:
        mapping = _mapping(self.cost_type)
        page = self._first
        while page is not None:
            if focus_columns(self.cost_type, page.columns) != self.layout.names:
                raise InputError("a later page has different columns than the first",
                                 file=self.name)
            records = [_row(self.cost_type, page.columns, values, self.name, mapping)
                       for values in page.rows]
            self._hash.update(orjson.dumps([page.columns, page.rows]))
            if records:
                raw = pa.RecordBatch.from_pydict(
                    {n: pa.array([r.get(n) for r in records], pa.string())
                     for n in self.layout.names})
                yield convert_batch(raw, self.layout, file=self.name,
                                    first_row=self.rows_read + 1)
                self.rows_read += len(records)
            page = next(self._pages, None)
        self._finished = True

    def table(self) -> pa.Table:
        """Every row at once (for the exporter)."""
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def close(self) -> None:
        """Nothing to release: the client belongs to the caller."""


@dataclass(frozen=True)
class QueryLoad:
    """A planned ingest load of one query (``focus.parts.PlannedLoad``)."""

    query: CostQuery
    settings: AzureSettings
    bearer_token: Any = None

    @property
    def name(self) -> str:
        return f"azcost://{self.query.scope} ({self.query.type}, {self.query.timeframe})"

    @property
    def source_id(self) -> str:
        return f"azure-query:{self.query.scope.lower()}:{self.query.type}"

    @property
    def known_fingerprint(self) -> str | None:
        return None

    def open(self, *, http: HttpOptions, focus_version: str | None,
             skip_invalid: bool) -> QueryStream:
        credential = token_source(self.settings, self.bearer_token or http.bearer_token)
        client = ArmClient(credential, self.settings)
        return QueryStream(client, self.query, self.name)


def parse_query_uri(uri: str) -> CostQuery:
    """``azcost://<scope>?type=&timeframe=&from=&to=&granularity=&groupBy=a,b,tag:env``."""
    parts = urlsplit(uri)
    scope = unquote(f"{parts.netloc}{parts.path}")
    params: dict[str, Any] = {"scope": scope}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        name = {"groupby": "group_by", "group": "group_by", "apiversion": "api_version",
                "api-version": "api_version"}.get(key.lower(), key)
        params[name] = value
    return parse_cost_query(params, where=uri.split("?", maxsplit=1)[0])


def expand_query_location(uri: str, options: HttpOptions) -> Sequence[QueryLoad] | None:
    """Expander for ``focus.parts``: ``azcost://`` locations become one query load."""
    if urlsplit(uri).scheme != "azcost":
        return None
    return [QueryLoad(parse_query_uri(uri), AzureSettings(), options.bearer_token)]


__all__ = ["CostQuery", "Page", "QueryLoad", "QueryStream", "expand_query_location",
           "focus_columns", "parse_cost_query", "parse_query_uri", "post_pages", "query_pages"]
