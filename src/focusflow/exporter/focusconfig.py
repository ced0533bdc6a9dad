"""A Krateo FocusConfig list as FOCUS rows: Krateo's label text and a lossless typing source.

Layer: ``exporter``. finops-operator-focus points an exporter at
``/apis/finops.krateo.io/v1/namespaces/<ns>/focusconfigs`` (reference §2.4); Krateo's exporter
turns each item's ``spec.focusSpec`` into a CSV row with one column per field of its Go
``FocusSpec`` struct (krateoplatformops/finops-data-types ``api/v1/types.go``) through
``GetStringValue`` (finops-prometheus-exporter ``internal/handlers/helpers.go``):

- quantities (``resource.Quantity``: ``billedCost``…) as ``AsDec().String()``: a JSON number
  in its shortest form (``27000.0`` → ``27000``, ``1.5e-7`` → ``0.00000015``), a quantity
  string with its own digits (``"1.50"`` stays ``1.50``), an absent one ``0``;
- times (``metav1.Time``) parsed as RFC 3339 and printed in UTC, to the second, with ``Z``
  (``2024-01-01T00:00:00+02:00`` → ``2023-12-31T22:00:00Z``);
- ``tags``/``skuPriceDetails`` (``[{key, value}]``) as ``k=v;k2=v2`` (the exposition's Tags
  rewrite then shows ``k:v;k2:v2``), absent fields as ``""``.

That text is what ``/metrics`` labels show, so Krateo's queries and its e2e expectations match.
The typed rows (``/rows``, the scraper) are made from a second, lossless spelling of the same
rows: absent fields NULL (not ``0``), tags as a JSON object, times as written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa

from focusflow.errors import InputError
from focusflow.exporter.krateo_text import quantity_text, rfc3339_utc

_S, _Q, _T, _TAGS = "string", "quantity", "time", "tags"
# The JSON keys of Krateo's FocusSpec struct, in struct order, with their Go kinds.
FOCUS_SPEC: tuple[tuple[str, str], ...] = (
    ("availabilityZone", _S), ("billedCost", _Q), ("billingAccountId", _S),
    ("billingAccountName", _S), ("billingCurrency", _S), ("billingPeriodEnd", _T),
    ("billingPeriodStart", _T), ("capacityReservationId", _S),
    ("capacityReservationStatus", _S), ("chargeCategory", _S), ("chargeClass", _S),
    ("chargeDescription", _S), ("chargeFrequency", _S), ("chargePeriodEnd", _T),
    ("chargePeriodStart", _T), ("commitmentDiscountCategory", _S),
    ("commitmentDiscoutId", _S), ("commitmentDiscountType", _S),
    ("commitmentDiscountStatus", _S), ("commitmentDiscountName", _S),
    ("commitmentDiscountQuantity", _Q), ("commitmentDiscountUnit", _S),
    ("consumedQuantity", _Q), ("consumedUnit", _S), ("contractedCost", _Q),
    ("contractedUnitCost", _Q), ("effectiveCost", _Q), ("invoiceIssuerName", _S),
    ("listCost", _Q), ("listUnitPrice", _Q), ("pricingCategory", _S),
    ("pricingQuantity", _Q), ("pricingUnit", _S), ("providerName", _S),
    ("publisherName", _S), ("regionId", _S), ("regionName", _S), ("resourceId", _S),
    ("resourceName", _S), ("resourceType", _S), ("serviceCategory", _S), ("serviceName", _S),
    ("serviceSubcategory", _S), ("skuId", _S), ("skuMeter", _S), ("skuPriceDetails", _TAGS),
    ("skuPriceId", _S), ("subAccountId", _S), ("subAccountName", _S), ("tags", _TAGS),
)
_KIND = dict(FOCUS_SPEC)


def column_name(key: str) -> str:
    """The Go field name Krateo uses as the CSV header (``commitmentDiscoutId``, sic)."""
    fixed = {"commitmentDiscoutId": "CommitmentDiscountId"}
    return fixed.get(key, key[:1].upper() + key[1:])


def focus_config_tables(data: Any, name: str) -> tuple[pa.Table, pa.Table] | None:
    """(Krateo's label text, the lossless text to type) of a FocusConfig list, or None.

    None when ``data`` is not a FocusConfig list (no ``items`` array). Columns are every
    FocusSpec field, then any other key found, in name order: the order Krateo's Prometheus
    client prints its labels in.
    """
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    specs = []
    for number, item in enumerate(items, start=1):
        spec = (item.get("spec") or {}).get("focusSpec") if isinstance(item, dict) else None
        if not isinstance(spec, dict):
            raise InputError("FocusConfig item has no spec.focusSpec object", file=name,
                             row=number)
        specs.append(spec)
    if not specs:
        raise InputError("the FocusConfig list holds no items", file=name)
    keys = [key for key, _ in FOCUS_SPEC]
    keys += [key for key in dict.fromkeys(k for spec in specs for k in spec) if key not in _KIND]
    keys.sort(key=column_name)
    labels: dict[str, list[str | None]] = {}
    lossless: dict[str, list[str | None]] = {}
    for key in keys:
        krateo, typed = _FORMATS.get(_KIND.get(key, ""), (_plain, _plain))
        labels[column_name(key)] = [krateo(spec.get(key)) for spec in specs]
        lossless[column_name(key)] = [typed(spec.get(key)) for spec in specs]
    return _strings(labels), _strings(lossless)


def _strings(columns: dict[str, list[str | None]]) -> pa.Table:
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})


def _plain(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int):
        return quantity_text(value)
    return orjson.dumps(value).decode()


def _label(value: Any) -> str:
    text = _plain(value)
    return "" if text is None else text


def _quantity_label(value: Any) -> str:
    return quantity_text(value) or "0"  # a Go zero Quantity prints 0


def _time_label(value: Any) -> str:
    """RFC 3339 in UTC to the second (metav1.Time parses, Krateo formats ``time.RFC3339``)."""
    return rfc3339_utc(value) if isinstance(value, str) else _label(value)


def _pairs(value: Any) -> list[tuple[str, str]] | None:
    if isinstance(value, list):
        return [(str(t.get("key", "")), str(t.get("value", ""))) for t in value
                if isinstance(t, dict)]
    if isinstance(value, dict):
        return [(str(k), "" if v is None else str(v)) for k, v in value.items()]
    return None


def _tags_label(value: Any) -> str:
    pairs = _pairs(value)
    if pairs is None:
        return _label(value)
    return ";".join(f"{key}={text}" for key, text in pairs)


def _tags_json(value: Any) -> str | None:
    pairs = _pairs(value)
    if pairs is None:
        return _plain(value)
    return orjson.dumps(dict(pairs)).decode() if pairs else None


_FORMATS: dict[str, tuple[Callable[[Any], str], Callable[[Any], str | None]]] = {
    _S: (_label, _plain),
    _Q: (_quantity_label, quantity_text),
    _T: (_time_label, _plain),
    _TAGS: (_tags_label, _tags_json),
}
