"""Krateo FocusConfigs as FOCUS rows: the source behind an operator-made FocusConfig exporter.

Layer: ``sources`` (no Kubernetes client: the list is an ordinary HTTP GET against the API
server, ``/apis/finops.krateo.io/v1/namespaces/<ns>/focusconfigs?fieldSelector=
status.groupKey=...``, made by ``HttpSource`` with the in-cluster endpoint, every ``continue``
page followed).

Each FocusConfig's ``spec.focusSpec`` becomes one row with the 50 columns of Krateo's
``FocusSpec`` (finops-data-types ``api/v1/types.go``) in Krateo's order, valued as Krateo's
exporter values them (finops-prometheus-exporter-generic ``GetStringValue``):

- quantities (``billedCost``, ``consumedQuantity``, ... given as ``27000.0``, ``"3"`` or
  ``"1.5k"``) in shortest plain decimal form, ``27000``; a quantity the FocusConfig leaves out is
  ``0``, Go's zero ``Quantity``, as Krateo serves it;
- date-times converted to UTC, ``2024-01-01T00:00:00+02:00`` -> ``2023-12-31T22:00:00Z``;
- ``tags`` / ``skuPriceDetails`` (``[{key, value}]``) as a compact JSON object, which the
  exporter's Krateo label rule turns into ``k:v;k2:v2`` and the lossless rows keep as JSON;
- other fields as given; absent ones empty (null in the typed rows).

The rows go out as CSV (quoted properly: Krateo's unquoted output breaks on a comma in a
description), so the exporter types them like any FOCUS report.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from focusflow.errors import InputError
from focusflow.sources.base import Fetched
from focusflow.sources.endpoint import ApiConfig
from focusflow.sources.http import EndpointResolver, HttpSource

# (column, focusSpec key, kind) in the order of Krateo's FocusSpec struct.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("AvailabilityZone", "availabilityZone", "text"),
    ("BilledCost", "billedCost", "quantity"),
    ("BillingAccountId", "billingAccountId", "text"),
    ("BillingAccountName", "billingAccountName", "text"),
    ("BillingCurrency", "billingCurrency", "text"),
    ("BillingPeriodEnd", "billingPeriodEnd", "time"),
    ("BillingPeriodStart", "billingPeriodStart", "time"),
    ("CapacityReservationId", "capacityReservationId", "text"),
    ("CapacityReservationStatus", "capacityReservationStatus", "text"),
    ("ChargeCategory", "chargeCategory", "text"),
    ("ChargeClass", "chargeClass", "text"),
    ("ChargeDescription", "chargeDescription", "text"),
    ("ChargeFrequency", "chargeFrequency", "text"),
    ("ChargePeriodEnd", "chargePeriodEnd", "time"),
    ("ChargePeriodStart", "chargePeriodStart", "time"),
    ("CommitmentDiscountCategory", "commitmentDiscountCategory", "text"),
    ("CommitmentDiscountId", "commitmentDiscoutId", "text"),  # sic: Krateo's JSON key
    ("CommitmentDiscountType", "commitmentDiscountType", "text"),
    ("CommitmentDiscountStatus", "commitmentDiscountStatus", "text"),
    ("CommitmentDiscountName", "commitmentDiscountName", "text"),
    ("CommitmentDiscountQuantity", "commitmentDiscountQuantity", "quantity"),
    ("CommitmentDiscountUnit", "commitmentDiscountUnit", "text"),
    ("ConsumedQuantity", "consumedQuantity", "quantity"),
    ("ConsumedUnit", "consumedUnit", "text"),
    ("ContractedCost", "contractedCost", "quantity"),
    ("ContractedUnitCost", "contractedUnitCost", "quantity"),
    ("EffectiveCost", "effectiveCost", "quantity"),
    ("InvoiceIssuerName", "invoiceIssuerName", "text"),
    ("ListCost", "listCost", "quantity"),
    ("ListUnitPrice", "listUnitPrice", "quantity"),
    ("PricingCategory", "pricingCategory", "text"),
    ("PricingQuantity", "pricingQuantity", "quantity"),
    ("PricingUnit", "pricingUnit", "text"),
    ("ProviderName", "providerName", "text"),
    ("PublisherName", "publisherName", "text"),
    ("RegionId", "regionId", "text"),
    ("RegionName", "regionName", "text"),
    ("ResourceId", "resourceId", "text"),
    ("ResourceName", "resourceName", "text"),
    ("ResourceType", "resourceType", "text"),
    ("ServiceCategory", "serviceCategory", "text"),
    ("ServiceName", "serviceName", "text"),
    ("ServiceSubcategory", "serviceSubcategory", "text"),
    ("SkuId", "skuId", "text"),
    ("SkuMeter", "skuMeter", "text"),
    ("SkuPriceDetails", "skuPriceDetails", "pairs"),
    ("SkuPriceId", "skuPriceId", "text"),
    ("SubAccountId", "subAccountId", "text"),
    ("SubAccountName", "subAccountName", "text"),
    ("Tags", "tags", "pairs"),
)
HEADER = tuple(column for column, _, _ in COLUMNS)

_LIST_PATH = re.compile(r"^/?apis/finops\.krateo\.io/v1/(namespaces/[^/]+/)?focusconfigs(\?|$)")
# Kubernetes resource.Quantity: a decimal, then a binary/decimal SI suffix or an exponent.
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
_SUFFIX = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
           "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
           "P": Decimal("1e15"), "E": Decimal("1e18"), "Ki": Decimal(2**10),
           "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
           "Pi": Decimal(2**50), "Ei": Decimal(2**60)}


def is_focusconfig_list(path: str) -> bool:
    """True for an API path that lists FocusConfigs (what operator-made exporters request)."""
    return bool(_LIST_PATH.match(path))


def format_quantity(value: Any, *, where: str = "quantity") -> str:
    """A Kubernetes quantity (number or string) in shortest plain decimal form: ``27000``."""
    if value is None or value == "":
        return "0"
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = Decimal(str(value))
    else:
        found = _QUANTITY.match(str(value).strip())
        if found is None:
            raise ValueError(f"{where}: {value!r} is not a number or Kubernetes quantity")
        suffix = found.group(2) or ""
        try:
            number = Decimal(found.group(1))
            number = (number.scaleb(int(suffix[1:])) if suffix[:1] in ("e", "E")
                      else number * _SUFFIX[suffix])
        except InvalidOperation as exc:
            raise ValueError(f"{where}: {value!r} is out of range") from exc
    if number.is_zero():
        return "0"
    text = format(number.normalize(), "f")
    return text


def format_time(value: Any, *, where: str = "date-time") -> str:
    """An RFC 3339 date-time converted to UTC with a ``Z``: ``2023-12-31T22:00:00Z``."""
    if value is None or value == "":
        return ""
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{where}: {text!r} is not an RFC 3339 date-time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_pairs(value: Any, *, where: str = "tags") -> str:
    """``[{key, value}]`` as a compact JSON object (``""`` when there are none)."""
    if value is None or value == []:
        return ""
    if not isinstance(value, list) or not all(isinstance(p, dict) for p in value):
        raise ValueError(f"{where}: expected a list of {{key, value}} objects")
    pairs = {str(p.get("key", "")): "" if p.get("value") is None else str(p["value"])
             for p in value}
    return orjson.dumps(pairs).decode()


_FORMAT = {"quantity": format_quantity, "time": format_time, "pairs": format_pairs}


def focus_row(spec: Mapping[str, Any], *, where: str = "focusSpec") -> dict[str, str]:
    """One FocusConfig ``spec.focusSpec`` as Krateo's 50 text cells (see the module docstring)."""
    row: dict[str, str] = {}
    for column, key, kind in COLUMNS:
        value = spec.get(key)
        if kind == "text":
            row[column] = "" if value is None else str(value)
        else:
            row[column] = _FORMAT[kind](value, where=f"{where}.{key}")
    return row


def focus_rows(items: Iterable[Any], *, name: str = "FocusConfig list") -> list[dict[str, str]]:
    """Rows of the FocusConfigs ``items`` of a list; a bad one is an ``InputError`` naming it."""
    rows = []
    for number, item in enumerate(items, start=1):
        spec = (item.get("spec") or {}).get("focusSpec") if isinstance(item, dict) else None
        meta = (item.get("metadata") or {}) if isinstance(item, dict) else {}
        label = f"FocusConfig {meta.get('namespace', '')}/{meta.get('name', number)}".replace(
            " /", " ")
        if not isinstance(spec, dict):
            raise InputError(f"{label}: no spec.focusSpec object", file=name, row=number)
        try:
            rows.append(focus_row(spec, where=f"{label} spec.focusSpec"))
        except ValueError as exc:
            raise InputError(str(exc), file=name, row=number) from exc
    return rows


def focus_csv(rows: Iterable[Mapping[str, str]]) -> bytes:
    """CSV with Krateo's header; every cell quoted when it needs to be."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow([row[column] for column in HEADER])
    return out.getvalue().encode()


def list_items(body: bytes, name: str) -> list[Any]:
    """The ``items`` of a Kubernetes list response."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc})", file=name) from exc
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InputError('expected a Kubernetes list ({"items": [...]})', file=name)
    return items


class FocusConfigSource:
    """The FocusConfigs an API path lists, as FOCUS rows (CSV, ``text/csv``)."""

    def __init__(self, api: ApiConfig, resolver: EndpointResolver,
                 variables: Mapping[str, str] | None = None) -> None:
        self._http = HttpSource(api, resolver, variables)
        self.name = self._http.name

    def fetch(self) -> Fetched:
        listed = self._http.fetch()
        self.name = listed.name
        rows = focus_rows(list_items(listed.body or b"", listed.name), name=listed.name)
        return Fetched(name=listed.name, body=focus_csv(rows), content_type="text/csv",
                       hints={"path": listed.hints.get("path", ""), "focusconfigs": "1"})
