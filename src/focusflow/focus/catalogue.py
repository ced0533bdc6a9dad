"""The FOCUS column catalogue: every column of FOCUS 1.0-1.4 with its type, level and values.

This is the model layer's ground truth; readers, the typed schema and the validator all ask it.
Facts for 1.0-1.3 come from the FOCUS specification's column "Content constraints" tables (see
``shared/reference/focus-columns.md``): level per version, data type, nullability, value format
and allowed values. FOCUS 1.4 and its four datasets come from the published 1.4 Data Model
(``datamodel.py``, vendored with its provenance). Names are matched case-insensitively and
reported in their canonical PascalCase form. A header tells its dataset and version
(``detect_dataset``, ``detect_version``); versions focusflow does not read are named as such.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from focusflow.errors import ConfigError
from focusflow.focus.datamodel import model_columns


class DataType(StrEnum):
    """FOCUS data types, as the spec names them."""

    STRING = "String"
    DECIMAL = "Decimal"
    DATETIME = "Date/Time"
    JSON = "JSON"


class Level(StrEnum):
    """FOCUS feature levels."""

    MANDATORY = "Mandatory"
    CONDITIONAL = "Conditional"
    RECOMMENDED = "Recommended"


class Dataset(StrEnum):
    """FOCUS datasets: 1.3 added Contract Commitment, 1.4 Invoice Detail and Billing Period."""

    COST_AND_USAGE = "CostAndUsage"
    CONTRACT_COMMITMENT = "ContractCommitment"
    INVOICE_DETAIL = "InvoiceDetail"
    BILLING_PERIOD = "BillingPeriod"

    @property
    def label(self) -> str:
        """The spec's name: "Cost and Usage", "Contract Commitment", ..."""
        return _TITLES[self]


_TITLES = {
    Dataset.COST_AND_USAGE: "Cost and Usage",
    Dataset.CONTRACT_COMMITMENT: "Contract Commitment",
    Dataset.INVOICE_DETAIL: "Invoice Detail",
    Dataset.BILLING_PERIOD: "Billing Period",
}

VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3", "1.4")
LATEST_VERSION = "1.4"
_HAND_VERSIONS = VERSIONS[:4]  # written below from the spec text; 1.4 comes from the model


@dataclass(frozen=True, slots=True)
class Column:
    """One FOCUS column: what the spec says about its content."""

    name: str
    data_type: DataType
    nullable: bool
    levels: Mapping[str, Level]
    value_format: str = ""
    allowed_values: frozenset[str] = field(default_factory=frozenset)
    dataset: Dataset = Dataset.COST_AND_USAGE
    numeric_range: tuple[float, float] | None = None  # 1.4: e.g. percentages within [0, 1]
    # Versions whose nullability differs from ``nullable`` (1.4 made PricingCurrency non-null).
    nulls_by_version: Mapping[str, bool] = field(default_factory=dict)

    def level(self, version: str) -> Level | None:
        """The column's feature level in ``version``, or None when that version lacks it."""
        return self.levels.get(version)

    def allows_nulls(self, version: str) -> bool:
        """Whether ``version`` allows nulls in the column."""
        return self.nulls_by_version.get(version, self.nullable)

    @property
    def is_currency(self) -> bool:
        return self.value_format == "Currency Format"


M, C, R = Level.MANDATORY, Level.CONDITIONAL, Level.RECOMMENDED
S, D, T, J = DataType.STRING, DataType.DECIMAL, DataType.DATETIME, DataType.JSON
NUM, DTF, CUR, KV, UNIT, ALLOWED = (
    "Numeric Format", "Date/Time Format", "Currency Format", "Key-Value Format", "Unit Format",
    "Allowed Values",
)


def _levels(*per_version: Level | None) -> Mapping[str, Level]:
    """Levels for 1.0, 1.1, 1.2, 1.3 in order; None where the version lacks the column."""
    return MappingProxyType({
        version: level for version, level in zip(_HAND_VERSIONS, per_version, strict=True)
        if level
    })


def _all(level: Level) -> Mapping[str, Level]:
    return _levels(level, level, level, level)


def _since_11(level: Level) -> Mapping[str, Level]:
    return _levels(None, level, level, level)


def _since_12(level: Level) -> Mapping[str, Level]:
    return _levels(None, None, level, level)


def _since_13(level: Level) -> Mapping[str, Level]:
    return _levels(None, None, None, level)


SERVICE_SUBCATEGORIES: Mapping[str, frozenset[str]] = MappingProxyType({
    category: frozenset([*subs, f"Other ({category})"])
    for category, subs in {
        "AI and Machine Learning": ["AI Platforms", "Bots", "Generative AI", "Machine Learning",
                                    "Natural Language Processing"],
        "Analytics": ["Analytics Platforms", "Business Intelligence", "Data Processing", "Search",
                      "Streaming Analytics"],
        "Business Applications": ["Productivity and Collaboration"],
        "Compute": ["Containers", "End User Computing", "Quantum Compute", "Serverless Compute",
                    "Virtual Machines"],
        "Databases": ["Caching", "Data Warehouses", "Ledger Databases", "NoSQL Databases",
                      "Relational Databases", "Time Series Databases"],
        "Developer Tools": ["Developer Platforms", "Continuous Integration and Deployment",
                            "Development Environments", "Source Code Management",
                            "Quality Assurance"],
        "Identity": ["Identity and Access Management"],
        "Integration": ["API Management", "Messaging", "Workflow Orchestration"],
        "Internet of Things": ["IoT Analytics", "IoT Platforms"],
        "Management and Governance": ["Architecture", "Compliance", "Cost Management",
                                      "Data Governance", "Disaster Recovery",
                                      "Endpoint Management", "Observability", "Support"],
        "Media": ["Content Creation", "Gaming", "Media Streaming", "Mixed Reality"],
        "Migration": ["Data Migration", "Resource Migration"],
        "Mobile": [],
        "Multicloud": ["Multicloud Integration"],
        "Networking": ["Application Networking", "Content Delivery", "Network Connectivity",
                       "Network Infrastructure", "Network Routing", "Network Security"],
        "Security": ["Secret Management", "Security Posture Management",
                     "Threat Detection and Response"],
        "Storage": ["Backup Storage", "Block Storage", "File Storage", "Object Storage",
                    "Storage Platforms"],
        "Web": ["Application Platforms"],
        "Other": [],
    }.items()
})

_ALLOWED: Mapping[str, frozenset[str]] = {
    "CapacityReservationStatus": frozenset({"Used", "Unused"}),
    "ChargeCategory": frozenset({"Usage", "Purchase", "Tax", "Credit", "Adjustment"}),
    "ChargeClass": frozenset({"Correction"}),
    "ChargeFrequency": frozenset({"One-Time", "Recurring", "Usage-Based"}),
    "CommitmentDiscountCategory": frozenset({"Spend", "Usage"}),
    "CommitmentDiscountStatus": frozenset({"Used", "Unused"}),
    "ContractCommitmentCategory": frozenset({"Spend", "Usage"}),
    "PricingCategory": frozenset({"Standard", "Dynamic", "Committed", "Other"}),
    "ServiceCategory": frozenset(SERVICE_SUBCATEGORIES),
    "ServiceSubcategory": frozenset().union(*SERVICE_SUBCATEGORIES.values()),
}


def _col(  # noqa: PLR0917 - a table row: positional by design
    name: str, data_type: DataType, nullable: bool, levels: Mapping[str, Level],
    value_format: str = "", dataset: Dataset = Dataset.COST_AND_USAGE,
) -> Column:
    return Column(name, data_type, nullable, levels, value_format,
                  _ALLOWED.get(name, frozenset()), dataset)


_CU = [
    _col("AvailabilityZone", S, True, _all(R)),
    _col("BilledCost", D, False, _all(M), NUM),
    _col("BillingAccountId", S, False, _all(M)),
    _col("BillingAccountName", S, True, _all(M)),
    _col("BillingCurrency", S, False, _all(M), CUR),
    _col("BillingPeriodEnd", T, False, _all(M), DTF),
    _col("BillingPeriodStart", T, False, _all(M), DTF),
    _col("ChargeCategory", S, False, _all(M), ALLOWED),
    _col("ChargeClass", S, True, _all(M), ALLOWED),
    _col("ChargeDescription", S, True, _all(M)),
    _col("ChargeFrequency", S, False, _all(R), ALLOWED),
    _col("ChargePeriodEnd", T, False, _all(M), DTF),
    _col("ChargePeriodStart", T, False, _all(M), DTF),
    _col("CommitmentDiscountCategory", S, True, _all(C), ALLOWED),
    _col("CommitmentDiscountId", S, True, _all(C)),
    _col("CommitmentDiscountName", S, True, _all(C)),
    _col("CommitmentDiscountStatus", S, True, _all(C), ALLOWED),
    _col("CommitmentDiscountType", S, True, _all(C)),
    _col("ConsumedQuantity", D, True, _all(C), NUM),
    _col("ConsumedUnit", S, True, _all(C), UNIT),
    _col("ContractedCost", D, False, _all(M), NUM),
    _col("ContractedUnitPrice", D, True, _all(C), NUM),
    _col("EffectiveCost", D, False, _all(M), NUM),
    _col("InvoiceIssuerName", S, False, _all(M)),
    _col("ListCost", D, False, _all(M), NUM),
    _col("ListUnitPrice", D, True, _all(C), NUM),
    _col("PricingCategory", S, True, _all(C), ALLOWED),
    _col("PricingQuantity", D, True, _all(M), NUM),
    _col("PricingUnit", S, True, _all(M), UNIT),
    _col("ProviderName", S, False, _all(M)),
    _col("PublisherName", S, False, _all(M)),
    _col("RegionId", S, True, _all(C)),
    _col("RegionName", S, True, _all(C)),
    _col("ResourceId", S, True, _all(C)),
    _col("ResourceName", S, True, _all(C)),
    _col("ResourceType", S, True, _all(C)),
    _col("ServiceCategory", S, False, _all(M), ALLOWED),
    _col("ServiceName", S, False, _all(M)),
    _col("SkuId", S, True, _all(C)),
    _col("SkuPriceId", S, True, _all(C)),
    _col("SubAccountId", S, True, _all(C)),
    _col("SubAccountName", S, True, _all(C)),
    _col("Tags", J, True, _all(C), KV),
    _col("CapacityReservationId", S, True, _since_11(C)),
    _col("CapacityReservationStatus", S, True, _since_11(C), ALLOWED),
    _col("CommitmentDiscountQuantity", D, True, _since_11(C), NUM),
    _col("CommitmentDiscountUnit", S, True, _since_11(C), UNIT),
    _col("ServiceSubcategory", S, False, _since_11(R), ALLOWED),
    _col("SkuMeter", S, True, _since_11(C)),
    _col("SkuPriceDetails", J, True, _since_11(C), KV),
    _col("BillingAccountType", S, False, _since_12(C)),
    _col("InvoiceId", S, True, _since_12(R)),
    _col("PricingCurrency", S, True, _since_12(C), CUR),
    _col("PricingCurrencyContractedUnitPrice", D, True, _since_12(C), NUM),
    _col("PricingCurrencyEffectiveCost", D, True, _since_12(C), NUM),
    _col("PricingCurrencyListUnitPrice", D, True, _since_12(C), NUM),
    _col("SubAccountType", S, True, _since_12(C)),
    _col("ServiceProviderName", S, False, _since_13(M)),
    _col("HostProviderName", S, True, _since_13(M)),
    _col("ContractApplied", J, True, _since_13(C), "JSON Object Format"),
    _col("AllocatedMethodId", S, True, _since_13(C)),
    _col("AllocatedMethodDetails", J, True, _since_13(R), "JSON Object Format"),
    _col("AllocatedResourceId", S, True, _since_13(C)),
    _col("AllocatedResourceName", S, True, _since_13(C)),
    _col("AllocatedTags", J, True, _since_13(C), KV),
]

_CC_DS = Dataset.CONTRACT_COMMITMENT
_CC = [
    _col("ContractCommitmentId", S, False, _since_13(M), dataset=_CC_DS),
    _col("ContractCommitmentType", S, False, _since_13(M), dataset=_CC_DS),
    _col("ContractCommitmentCategory", S, False, _since_13(M), ALLOWED, _CC_DS),
    _col("ContractCommitmentCost", D, True, _since_13(M), NUM, _CC_DS),
    _col("ContractCommitmentQuantity", D, True, _since_13(M), NUM, _CC_DS),
    _col("ContractCommitmentUnit", S, True, _since_13(M), UNIT, _CC_DS),
    _col("ContractCommitmentDescription", S, True, _since_13(M), dataset=_CC_DS),
    _col("ContractCommitmentPeriodStart", T, False, _since_13(M), DTF, _CC_DS),
    _col("ContractCommitmentPeriodEnd", T, False, _since_13(M), DTF, _CC_DS),
    _col("ContractId", S, False, _since_13(M), dataset=_CC_DS),
    _col("ContractPeriodStart", T, False, _since_13(M), DTF, _CC_DS),
    _col("ContractPeriodEnd", T, False, _since_13(M), DTF, _CC_DS),
    _col("BillingCurrency", S, True, _since_13(M), CUR, _CC_DS),
]



def _merge_model(hand: list[Column]) -> dict[Dataset, dict[str, Column]]:
    """The hand-written 1.0-1.3 columns, each given its 1.4 level from the published model;
    columns new in 1.4 (and the Invoice Detail and Billing Period datasets) taken from it."""
    tables: dict[Dataset, dict[str, Column]] = {dataset: {} for dataset in Dataset}
    for column in hand:
        tables[column.dataset][column.name] = column
    for spec in model_columns():
        dataset = Dataset(spec.dataset)
        level = Level(spec.feature_level)
        known = tables[dataset].get(spec.name)
        if known is not None:
            nulls = {**known.nulls_by_version}
            if spec.allows_nulls != known.nullable:
                nulls["1.4"] = spec.allows_nulls
            tables[dataset][spec.name] = replace(
                known, levels=MappingProxyType({**known.levels, "1.4": level}),
                numeric_range=spec.numeric_range, nulls_by_version=MappingProxyType(nulls))
            continue
        allowed = frozenset(spec.allowed_values) or _ALLOWED.get(spec.name, frozenset())
        tables[dataset][spec.name] = Column(
            spec.name, DataType(spec.data_type), spec.allows_nulls,
            MappingProxyType({"1.4": level}), spec.value_format, allowed, dataset,
            spec.numeric_range)
    return tables


_TABLES = _merge_model([*_CU, *_CC])
COST_AND_USAGE: Mapping[str, Column] = MappingProxyType(_TABLES[Dataset.COST_AND_USAGE])
CONTRACT_COMMITMENT: Mapping[str, Column] = MappingProxyType(_TABLES[Dataset.CONTRACT_COMMITMENT])
INVOICE_DETAIL: Mapping[str, Column] = MappingProxyType(_TABLES[Dataset.INVOICE_DETAIL])
BILLING_PERIOD: Mapping[str, Column] = MappingProxyType(_TABLES[Dataset.BILLING_PERIOD])
_BY_LOWER: Mapping[Dataset, Mapping[str, Column]] = {
    dataset: {name.lower(): column for name, column in table.items()}
    for dataset, table in _TABLES.items()
}
# Columns only one dataset has: what tells a header's dataset.
_MARKERS: Mapping[Dataset, frozenset[str]] = {
    dataset: frozenset(name for name in _BY_LOWER[dataset]
                       if not any(name in _BY_LOWER[other] for other in Dataset
                                  if other is not dataset))
    for dataset in Dataset
}

SUPPORTED = "FOCUS 1.0, 1.1, 1.2, 1.3 and 1.4"
# FOCUS 0.5 column IDs that 1.0 renamed (ChargeType -> ChargeCategory, Region -> RegionId/Name).
_V05_ONLY = ("ChargeType", "Region")


def require_supported(version: str) -> str:
    """``version`` when focusflow reads it; ``ConfigError`` naming it and what is supported."""
    if version not in VERSIONS:
        raise ConfigError(f"FOCUS {version} is not a version focusflow supports "
                          f"(it reads {SUPPORTED})")
    return version


def columns_for(version: str, dataset: Dataset = Dataset.COST_AND_USAGE) -> list[Column]:
    """The columns ``version`` defines for ``dataset``, in catalogue order."""
    require_supported(version)
    return [c for c in _TABLES[dataset].values() if c.level(version) is not None]


def lookup(name: str, dataset: Dataset = Dataset.COST_AND_USAGE) -> Column | None:
    """The catalogue column matching ``name`` case-insensitively, or None."""
    return _BY_LOWER[dataset].get(name.strip().lower())


def is_custom(name: str) -> bool:
    """True for provider-defined columns (the spec's ``x_`` prefix, any case)."""
    return name.lower().startswith("x_")


def detect_dataset(header: Iterable[str]) -> Dataset:
    """The dataset whose own columns the header has most of; Cost and Usage when a charge
    period is present or nothing else fits."""
    return identify_dataset(header) or Dataset.COST_AND_USAGE


def identify_dataset(header: Iterable[str]) -> Dataset | None:
    """Like ``detect_dataset``, but None when no column tells a dataset (a table's column names
    work as well as a file's header)."""
    names = {h.strip().lower() for h in header}
    if "chargeperiodstart" in names:
        return Dataset.COST_AND_USAGE
    found = {dataset: len(names & _MARKERS[dataset]) for dataset in Dataset}
    best = max(found, key=lambda dataset: found[dataset])
    return best if found[best] else None


def unsupported_version(header: Iterable[str]) -> tuple[str, list[str]] | None:
    """(version, telling columns) when the header is of a FOCUS version focusflow does not
    read (0.5: it has ChargeType or Region and no ChargeCategory), else None."""
    names = {h.strip().lower(): h.strip() for h in header}
    if "chargecategory" in names:
        return None
    telling = [names[n.lower()] for n in _V05_ONLY if n.lower() in names]
    return ("0.5", telling) if telling else None


def detect_version(header: Iterable[str]) -> str:
    """The FOCUS version that best explains ``header``.

    A column introduced in version V proves the file is at least V, and a column a later
    version dropped (ProviderName, PublisherName in 1.4) that it is at most the last version
    having it. In that range the oldest version whose Mandatory columns are all present wins
    (a 1.4 Cost and Usage file without the 1.4-only Conditional columns is 1.4, not a 1.3 file
    lacking ProviderName); with none complete, the oldest, whose missing columns get reported.
    """
    names = [h.strip() for h in header]
    dataset = detect_dataset(names)
    exists = [v for v in VERSIONS if any(c.level(v) for c in _TABLES[dataset].values())]
    known = [c for c in (lookup(n, dataset) for n in names) if c is not None]
    index = VERSIONS.index
    low = max((min(c.levels, key=index) for c in known), default=exists[0], key=index)
    low = max(low, exists[0], key=index)
    high = min((max(c.levels, key=index) for c in known), default=exists[-1], key=index)
    present = {n.lower() for n in names}
    for version in exists:
        if not index(low) <= index(version) <= index(high):
            continue
        if all(c.name.lower() in present for c in _TABLES[dataset].values()
               if c.level(version) is Level.MANDATORY):
            return version
    return low
