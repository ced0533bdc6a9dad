"""The FOCUS column catalogue: every column of FOCUS 1.0-1.3 with its type, level and values.

This is the model layer's ground truth; readers, the typed schema and the validator all ask it.
Facts come from the FOCUS specification's column "Content constraints" tables (see
``shared/reference/focus-columns.md``): level per version, data type, nullability, value format
and allowed values. Names are matched case-insensitively and reported in their canonical
PascalCase form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


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
    """FOCUS datasets (1.3 added Contract Commitment beside Cost and Usage)."""

    COST_AND_USAGE = "CostAndUsage"
    CONTRACT_COMMITMENT = "ContractCommitment"


VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3")
LATEST_VERSION = "1.3"


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

    def level(self, version: str) -> Level | None:
        """The column's feature level in ``version``, or None when that version lacks it."""
        return self.levels.get(version)

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
        version: level for version, level in zip(VERSIONS, per_version, strict=True) if level
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

COST_AND_USAGE: Mapping[str, Column] = MappingProxyType({c.name: c for c in _CU})
CONTRACT_COMMITMENT: Mapping[str, Column] = MappingProxyType({c.name: c for c in _CC})
_BY_LOWER: Mapping[Dataset, Mapping[str, Column]] = {
    Dataset.COST_AND_USAGE: {c.name.lower(): c for c in _CU},
    Dataset.CONTRACT_COMMITMENT: {c.name.lower(): c for c in _CC},
}


def columns_for(version: str, dataset: Dataset = Dataset.COST_AND_USAGE) -> list[Column]:
    """The columns ``version`` defines for ``dataset``, in catalogue order."""
    if version not in VERSIONS:
        raise ValueError(f"unknown FOCUS version {version!r}; known: {', '.join(VERSIONS)}")
    table = COST_AND_USAGE if dataset is Dataset.COST_AND_USAGE else CONTRACT_COMMITMENT
    return [c for c in table.values() if c.level(version) is not None]


def lookup(name: str, dataset: Dataset = Dataset.COST_AND_USAGE) -> Column | None:
    """The catalogue column matching ``name`` case-insensitively, or None."""
    return _BY_LOWER[dataset].get(name.strip().lower())


def is_custom(name: str) -> bool:
    """True for provider-defined columns (the spec's ``x_`` prefix, any case)."""
    return name.lower().startswith("x_")


def detect_dataset(header: Iterable[str]) -> Dataset:
    """Contract Commitment when its key columns are present and Cost and Usage's are not."""
    names = {h.strip().lower() for h in header}
    if "contractcommitmentid" in names and "chargeperiodstart" not in names:
        return Dataset.CONTRACT_COMMITMENT
    return Dataset.COST_AND_USAGE


def detect_version(header: Iterable[str]) -> str:
    """The newest FOCUS version whose columns best explain ``header``.

    A column introduced in version V proves the file is at least V; with no such marker the
    file is 1.0. 1.3 Contract Commitment files are 1.3 by definition.
    """
    names = list(header)
    dataset = detect_dataset(names)
    if dataset is Dataset.CONTRACT_COMMITMENT:
        return "1.3"
    version = VERSIONS[0]
    for name in names:
        column = lookup(name, dataset)
        if column is None:
            continue
        introduced = min(column.levels, key=VERSIONS.index)
        if VERSIONS.index(introduced) > VERSIONS.index(version):
            version = introduced
    return version
