"""Node prices from FOCUS billing rows (allocation layer).

Reads the ``Usage`` rows of a FOCUS report (any location ``FocusReader`` opens) or of a table
``focusflow ingest`` loaded, keeps those whose charge period overlaps the allocation window,
and groups them per (ResourceId, charge period). A group's cost is later spread over the
node-hours that matched it within its period (the job's ``_Pricer``): a daily row of a
node that ran 6 hours that day prices each of those hours at a sixth of it, and a scale set's
row is shared by its nodes by node-hours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from focusflow.allocation.matching import billing_keys, node_keys
from focusflow.allocation.metrics import HOUR, iso_hour
from focusflow.errors import InputError
from focusflow.focus import FocusReader
from focusflow.sinks import Sink, quote

_NEEDED = ("ResourceId", "ChargePeriodStart", "ChargePeriodEnd")


@dataclass
class ChargeGroup:
    """The Usage cost of one resource over one charge period, and the node-hours sharing it."""

    resource_id: str
    start: int
    end: int
    cost: Decimal
    currency: str
    node_hours: Decimal = Decimal(0)

    def covers(self, hour: int) -> bool:
        return self.start <= hour < self.end


@dataclass
class BillingIndex:
    """Charge groups by comparison key (``matching.billing_keys``)."""

    groups: list[ChargeGroup]
    by_key: dict[str, list[ChargeGroup]]

    @classmethod
    def build(cls, groups: list[ChargeGroup]) -> BillingIndex:
        by_key: dict[str, list[ChargeGroup]] = defaultdict(list)
        for group in groups:
            for key in billing_keys(group.resource_id):
                by_key[key].append(group)
        return cls(groups, dict(by_key))

    def match(self, provider_id: str, node: str) -> list[ChargeGroup]:
        """The groups of the node's most specific key that has any."""
        for key in node_keys(provider_id, node):
            if key in self.by_key:
                return self.by_key[key]
        return []

    @property
    def currencies(self) -> list[str]:
        return sorted({g.currency for g in self.groups if g.currency})

    def span(self) -> tuple[int, int] | None:
        """[first start, last end) of every group: the node presence this needs."""
        if not self.groups:
            return None
        return min(g.start for g in self.groups), max(g.end for g in self.groups)

    def presence_span(self, start: int, end: int) -> tuple[int, int]:
        """The whole hours whose node presence the window [start, end) needs: the window,
        widened to every charge period that overlaps it (a daily row is divided by the hours
        the node ran that day, not by the hours of the window). Raises when no group does."""
        span = self.span()
        if span is None:
            raise InputError(
                f"no Usage rows with a ResourceId whose charge period overlaps {iso_hour(start)}"
                f" .. {iso_hour(end)}; expected the billing rows of the cluster's nodes for "
                "those days")
        return min(start, span[0] - span[0] % HOUR), max(end, -(-span[1] // HOUR) * HOUR)


def _seconds(value: object) -> int:
    if not isinstance(value, datetime):
        raise TypeError(value)
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _filter(table: pa.Table, start: int, end: int) -> pa.Table:
    """Usage rows with a ResourceId whose charge period overlaps [start, end)."""
    lo = pa.scalar(datetime.fromtimestamp(start, UTC), pa.timestamp("us", tz="UTC"))
    hi = pa.scalar(datetime.fromtimestamp(end, UTC), pa.timestamp("us", tz="UTC"))
    mask = pc.and_(pc.is_valid(table["ResourceId"]),
                   pc.and_(pc.greater(pc.cast(table["ChargePeriodEnd"], lo.type), lo),
                           pc.less(pc.cast(table["ChargePeriodStart"], lo.type), hi)))
    if "ChargeCategory" in table.column_names:
        mask = pc.and_(mask, pc.equal(pc.utf8_lower(table["ChargeCategory"]), "usage"))
    return table.filter(mask)


_Groups = dict[tuple[str, int, int], ChargeGroup]  # (resource id lower-cased, start, end)


def _add_groups(rows: Iterable[dict[str, object]], cost_column: str, groups: _Groups) -> None:
    """Sum the rows' cost into ``groups`` per resource and charge period."""
    for row in rows:
        cost = row.get(cost_column)
        if cost is None:
            continue
        rid = str(row["ResourceId"])
        start, end = _seconds(row["ChargePeriodStart"]), _seconds(row["ChargePeriodEnd"])
        key = (rid.lower(), start, end)
        currency = str(row.get("BillingCurrency") or "")
        group = groups.setdefault(key, ChargeGroup(rid, start, end, Decimal(0), currency))
        group.cost += Decimal(str(cost))


def _columns(names: list[str], cost_column: str, where: str) -> list[str]:
    missing = [c for c in (*_NEEDED, cost_column) if c not in names]
    if missing:
        raise InputError(f"billing rows lack column(s) {', '.join(missing)}; expected FOCUS "
                         "ResourceId, ChargePeriodStart, ChargePeriodEnd and the cost column "
                         "to price nodes", file=where)
    return [c for c in (*_NEEDED, cost_column, "ChargeCategory", "BillingCurrency")
            if c in names]


def read_billing_file(uri: str, start: int, end: int, cost_column: str) -> BillingIndex:
    """Charge groups from a FOCUS report at ``uri`` overlapping [start, end)."""
    groups: _Groups = {}
    with FocusReader(uri, require_mandatory=False) as reader:
        columns = _columns(reader.layout.names, cost_column, reader.name)
        for batch in reader.batches():
            part = _filter(pa.Table.from_batches([batch]).select(columns), start, end)
            _add_groups(part.to_pylist(), cost_column, groups)
    return BillingIndex.build(list(groups.values()))


def read_billing_table(sink: Sink, table: str, start: int, end: int,
                       cost_column: str) -> BillingIndex:
    """Charge groups from a table ``focusflow ingest`` loaded (values bound, names quoted)."""
    names = sink.query(table, "SELECT * FROM {table} LIMIT 0").column_names
    columns = _columns(names, cost_column, f"table {table}")
    listing = ", ".join(quote(c) for c in columns)
    lo, hi = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    data = sink.query(table, f"SELECT {listing} FROM {{table}} WHERE {quote('ChargePeriodEnd')}"
                      f" > ? AND {quote('ChargePeriodStart')} < ?", [lo, hi])
    groups: _Groups = {}
    _add_groups(_filter(data, start, end).to_pylist(), cost_column, groups)
    return BillingIndex.build(list(groups.values()))

