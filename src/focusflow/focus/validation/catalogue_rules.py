"""The validator's built-in rules, derived from the FOCUS 1.0-1.4 column catalogue.

Model layer. These need no model file: mandatory columns present, custom columns prefixed
``x_``, non-nullable columns without nulls, Numeric and Date/Time formats, allowed values (and
each ServiceSubcategory under its own ServiceCategory), ISO 4217 currency codes, Key-Value
JSON objects, 1.4's numeric ranges (percentages within [0, 1]), and each period's start
before its end. Header rules are decided here from the
layout; row rules become SQL predicates for the single scan (``scan.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from focusflow.focus.catalogue import (
    SERVICE_SUBCATEGORIES,
    Column,
    DataType,
    Level,
    columns_for,
    is_custom,
)
from focusflow.focus.schema import Layout
from focusflow.focus.validation import sql
from focusflow.focus.validation.findings import RuleResult, Severity, Status
from focusflow.focus.validation.scan import RowCheck
from focusflow.focus.validation.sql import q

MANDATORY = "columns.mandatory-present"
CUSTOM_PREFIX = "columns.custom-prefix"
NOT_NULL = "values.not-null"
NUMERIC = "values.numeric-format"
NUMERIC_RANGE = "values.numeric-range"
DATETIME = "values.datetime-format"
ALLOWED = "values.allowed"
SUBCATEGORY = "values.subcategory-of-category"
CURRENCY = "values.currency-code"
KEY_VALUE = "values.key-value-format"
JSON_OBJECT = "values.json-object"
PERIOD_ORDER = "periods.start-before-end"
STORED_TYPE = "columns.stored-type"

# (start, end) pairs whose start must come strictly before the end.
PERIODS = (
    ("BillingPeriodStart", "BillingPeriodEnd"),
    ("ChargePeriodStart", "ChargePeriodEnd"),
    ("ContractCommitmentPeriodStart", "ContractCommitmentPeriodEnd"),
    ("ContractPeriodStart", "ContractPeriodEnd"),
)
# Currency columns that may hold virtual currencies (credits, tokens) besides ISO codes.
VIRTUAL_CURRENCY_ALLOWED = frozenset({"PricingCurrency"})


@dataclass(frozen=True, slots=True)
class RowRule:
    """A row-level rule: its identity and the SQL that finds offending rows."""

    rule_id: str
    column: str
    severity: Severity
    message: str
    check: RowCheck


def header_results(layout: Layout) -> list[RuleResult]:
    """Rules decided by the header alone: mandatory columns present, ``x_`` prefix."""
    results: list[RuleResult] = []
    present = set(layout.names)
    for column in columns_for(layout.version, layout.dataset):
        if column.level(layout.version) is not Level.MANDATORY:
            continue
        ok = column.name in present
        results.append(RuleResult(
            MANDATORY, column.name, Severity.ERROR, Status.PASSED if ok else Status.FAILED,
            f"{column.name} is a Mandatory column of FOCUS {layout.version} and must be present",
            count=0 if ok else 1, rows=() if ok else (0,),
        ))
    for entry in layout.columns:
        if entry.catalogue is not None and entry.catalogue.level(layout.version) is not None:
            continue
        ok = is_custom(entry.name)
        results.append(RuleResult(
            CUSTOM_PREFIX, entry.name, Severity.ERROR, Status.PASSED if ok else Status.FAILED,
            f"{entry.name!r} is not a FOCUS {layout.version} column, so it must carry the "
            "'x_' prefix of custom columns",
            count=0 if ok else 1, rows=() if ok else (0,),
        ))
    return results


def stored_type_results(
    layout: Layout, source_types: dict[str, pa.DataType] | None
) -> tuple[list[RuleResult], list[str]]:
    """For a typed source (Parquet): each FOCUS column's stored type judged against its FOCUS
    data type, and notes on date-times stored without a time zone.

    A typed value is judged by its type and value, not by how it would be written as text:
    decimals, doubles and integers are numbers, zoned timestamps are instants (rendered
    ``...Z``), maps and structs JSON objects. Text columns keep the text rules.
    """
    results: list[RuleResult] = []
    notes: list[str] = []
    for entry in layout.columns if source_types else ():
        spec = entry.catalogue
        stored = (source_types or {}).get(entry.source_name)
        if spec is None or stored is None or spec.level(layout.version) is None:
            continue
        if _is_text(stored):
            continue  # text rules apply
        ok = _STORED_FITS[spec.data_type](stored)
        results.append(RuleResult(
            STORED_TYPE, entry.name, Severity.ERROR, Status.PASSED if ok else Status.FAILED,
            f"{entry.name} is a FOCUS {spec.data_type.value} column; it is stored as {stored}",
            count=0 if ok else 1, rows=() if ok else (0,),
        ))
        if ok and pa.types.is_timestamp(stored) and stored.tz is None:
            notes.append(f"{entry.name} is stored as a timestamp without a time zone; FOCUS "
                         "date-times are UTC (values.datetime-format fails on every value; "
                         "a load reads them as UTC)")
    return results, notes


def _is_text(stored: pa.DataType) -> bool:
    if pa.types.is_dictionary(stored):
        stored = stored.value_type
    return bool(pa.types.is_string(stored) or pa.types.is_large_string(stored))


_STORED_FITS: dict[DataType, Callable[[pa.DataType], bool]] = {
    DataType.STRING: lambda t: False,  # an id stored as a number loses leading zeros
    DataType.DECIMAL: lambda t: bool(pa.types.is_decimal(t) or pa.types.is_floating(t)
                                      or pa.types.is_integer(t)),
    DataType.DATETIME: lambda t: bool(pa.types.is_timestamp(t)),
    DataType.JSON: lambda t: bool(pa.types.is_map(t) or pa.types.is_struct(t)),
}


def row_rules(layout: Layout) -> list[RowRule]:
    """Row-level rules for the columns the file has."""
    rules: list[RowRule] = []
    for entry in layout.columns:
        column = entry.catalogue
        if column is None or column.level(layout.version) is None:
            continue
        rules.extend(_column_rules(column, layout.version))
    if layout.has("ServiceCategory") and layout.has("ServiceSubcategory"):
        rules.append(_subcategory_rule())
    for start, end in PERIODS:
        if layout.has(start) and layout.has(end):
            violation = f"({sql.as_datetime(q(start))}) >= ({sql.as_datetime(q(end))})"
            rules.append(_rule(PERIOD_ORDER, start, Severity.ERROR,
                               f"{start} must be before {end}", violation))
    return rules


def _rule(rule_id: str, column: str, severity: Severity, message: str, violation: str) -> RowRule:
    return RowRule(rule_id, column, severity, message,
                   RowCheck(f"{rule_id}:{column}", violation))


def _column_rules(column: Column, version: str) -> list[RowRule]:
    col, name = q(column.name), column.name
    rules = []
    if not column.allows_nulls(version):
        rules.append(_rule(NOT_NULL, name, Severity.ERROR, f"{name} must not be null",
                           f"{col} IS NULL"))
    if column.data_type is DataType.DECIMAL:
        rules.append(_rule(NUMERIC, name, Severity.ERROR,
                           f"{name} must be a decimal in Numeric Format (e.g. -12.5, 1E-3)",
                           f"{col} IS NOT NULL AND NOT {sql.is_numeric(col)}"))
        if column.numeric_range is not None:
            low, high = column.numeric_range
            rules.append(_rule(NUMERIC_RANGE, name, Severity.ERROR,
                               f"{name} must be within [{low:g}, {high:g}]",
                               f"{sql.as_number(col)} NOT BETWEEN {low!r} AND {high!r}"))
    elif column.data_type is DataType.DATETIME:
        rules.append(_rule(DATETIME, name, Severity.ERROR,
                           f"{name} must be a UTC date-time 'YYYY-MM-DDTHH:mm:ssZ'",
                           f"{col} IS NOT NULL AND NOT {sql.is_datetime(col)}"))
    elif column.data_type is DataType.JSON:
        if column.value_format == "Key-Value Format":
            rules.append(_rule(KEY_VALUE, name, Severity.ERROR,
                               f"{name} must be a JSON object with unique keys and scalar values",
                               f"{col} IS NOT NULL AND NOT ({sql.is_key_value(col)})"))
        else:
            rules.append(_rule(JSON_OBJECT, name, Severity.ERROR,
                               f"{name} must be a JSON object",
                               f"{col} IS NOT NULL AND NOT ({sql.is_json_object(col)})"))
    if column.allowed_values:
        shown = ", ".join(sorted(column.allowed_values)[:8])
        more = ", ..." if len(column.allowed_values) > 8 else ""
        rules.append(_rule(ALLOWED, name, Severity.ERROR,
                           f"{name} must be one of the allowed values ({shown}{more})",
                           f"{col} IS NOT NULL AND NOT {sql.in_list(col, column.allowed_values)}"))
    if column.is_currency:
        virtual = name in VIRTUAL_CURRENCY_ALLOWED
        rules.append(_rule(
            CURRENCY, name, Severity.WARNING if virtual else Severity.ERROR,
            f"{name} must be an ISO 4217 currency code"
            + (" (or a virtual currency such as credits)" if virtual else ""),
            f"{col} IS NOT NULL AND NOT {sql.is_currency(col)}",
        ))
    return rules


def _subcategory_rule() -> RowRule:
    # Every subcategory belongs to exactly one category: a known subcategory whose category
    # differs from the row's breaks the rule (an unknown one is the allowed-values rule's).
    category_of = {sub: category for category, subs in SERVICE_SUBCATEGORIES.items()
                   for sub in subs}
    violation = (f"{q('ServiceCategory')} IS NOT NULL AND coalesce("
                 f"{sql.lookup(q('ServiceSubcategory'), category_of)} <> {q('ServiceCategory')}, "
                 "false)")
    return _rule(SUBCATEGORY, "ServiceSubcategory", Severity.ERROR,
                 "ServiceSubcategory must belong to the row's ServiceCategory", violation)
