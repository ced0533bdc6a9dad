"""Compile the FOCUS requirements model to SQL checks, and turn scan outcomes into verdicts.

Model layer. Every non-composite rule becomes one of: a row-level ``RowCheck`` (a SQL predicate
true on rows where the rule's Condition holds and its Requirement does not — conditions are
always honoured), a set-level check (CheckDistinctCount), a verdict decided from the header
alone (ColumnPresent), or a skip with its reason (not applicable, column absent, not
machine-checkable, known model defect). After the scan, composite rules take their verdict from
their children and a rule whose dependency failed a MUST is skipped, naming the dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from focusflow.focus.catalogue import lookup
from focusflow.focus.schema import Layout
from focusflow.focus.validation import sql
from focusflow.focus.validation.findings import RuleResult, Severity, Status
from focusflow.focus.validation.model import Check, ModelRule, RequirementsModel
from focusflow.focus.validation.overrides import NORMALISED_REASON, OVERRIDES, Action
from focusflow.focus.validation.scan import NEVER, CheckOutcome, RowCheck
from focusflow.focus.validation.sql import lit, q

ALL = "ALL"
# Relative tolerance for A * B = R: values are compared as doubles, so allow only the
# representation error of the product, not real mismatches (the same bound focus-validator uses).
PRODUCT_TOLERANCE = "1e-9"


class Unsupported(Exception):  # noqa: N818 - internal signal, never leaves this module
    """A check function the compiler does not know."""


@dataclass
class Planned:
    """What the compiler decided for one rule before the scan."""

    rule_id: str
    rule: ModelRule
    column: str | None
    severity: Severity
    status: Status | None = None  # None: decided by the scan (or, for composites, children)
    reason: str = ""
    check_key: str | None = None
    rows: tuple[int, ...] = ()
    covers: str | None = None  # the catalogue rule id this rule makes redundant, if any


# Unconditional model checks that judge exactly what a catalogue rule judges (for the column the
# check names): with the model applied, the catalogue rule is not run twice.
_COVERS = {
    "FormatNumeric": "values.numeric-format", "TypeDecimal": "values.numeric-format",
    "FormatDateTime": "values.datetime-format", "FormatKeyValue": "values.key-value-format",
    "CheckNationalCurrency": "values.currency-code",
}


def covered_catalogue_rules(compiled: CompiledModel) -> set[tuple[str, str]]:
    """(catalogue rule id, column) pairs the compiled model checks itself."""
    return {(p.covers, p.column) for p in compiled.planned.values()
            if p.covers and p.column and p.check_key}


def _covers(requirement: Check, column: str | None) -> str | None:
    """The catalogue rule an unconditional requirement on ``column`` duplicates, if any."""
    if column is None:
        return None
    listed = _value_list(requirement)
    if listed is not None:
        return "values.allowed" if listed[0] == column else None
    if requirement.column != column:
        return None
    if requirement.function == "CheckNotValue" and requirement.value is None:
        return "values.not-null"
    return _COVERS.get(requirement.function)


@dataclass
class CompiledModel:
    model: RequirementsModel
    planned: dict[str, Planned]
    checks: list[RowCheck]
    overrides_applied: set[str] = field(default_factory=set)


def compile_model(
    model: RequirementsModel, layout: Layout, applicable: Iterable[str] = ()
) -> CompiledModel:
    """Plan every rule of ``model`` for a file with ``layout``."""
    chosen = {a.strip().upper() for a in applicable if a.strip()}
    compiled = CompiledModel(model, {}, [])
    present = set(layout.names)
    inherited = inherited_conditions(model)
    for rule_id, rule in model.rules.items():
        planned = Planned(rule_id, rule, _column_of(rule),
                          Severity.from_keyword(rule.criteria.keyword))
        compiled.planned[rule_id] = planned
        if not rule.is_composite:
            _plan(planned, compiled, present, chosen, inherited.get(rule_id))
    return compiled


def inherited_conditions(model: RequirementsModel) -> dict[str, Check]:
    """Per rule, the conditions of the composites above it ("When X, ... adheres to: ...").

    A composite's Condition applies to every rule it contains. A rule reached along several
    paths applies where any path's conditions all hold (OR of ANDs); a path without
    conditions makes the rule unconditional.
    """
    children: dict[str, list[str]] = {}
    for rule_id, rule in model.rules.items():
        requirement = rule.criteria.requirement
        if rule.is_composite and requirement is not None:
            children[rule_id] = [n.model_rule_id for n in requirement.walk()
                                 if n.function == "CheckModelRule" and n.model_rule_id]
    contained = {child for kids in children.values() for child in kids}
    paths: dict[str, set[tuple[Check, ...]]] = {}

    def visit(rule_id: str, above: tuple[Check, ...], seen: frozenset[str]) -> None:
        rule = model.rules.get(rule_id)
        if rule is None or rule_id in seen:
            return
        paths.setdefault(rule_id, set()).add(above)
        if rule.is_composite and rule.criteria.condition is not None:
            above = (*above, rule.criteria.condition)
        for child in children.get(rule_id, []):
            visit(child, above, seen | {rule_id})

    for root in model.rules:
        if root not in contained:
            visit(root, (), frozenset())
    result: dict[str, Check] = {}
    for rule_id, found in paths.items():
        if () in found or not found:
            continue
        alternatives = [_all_of(list(path)) for path in sorted(found, key=len)]
        result[rule_id] = (alternatives[0] if len(alternatives) == 1
                           else Check.of("OR", *alternatives))
    return result


def _all_of(checks: list[Check | None]) -> Check:
    parts = tuple(c for c in checks if c is not None)
    return parts[0] if len(parts) == 1 else Check.of("AND", *parts)


def _column_of(rule: ModelRule) -> str | None:
    column = lookup(rule.reference)
    return column.name if column is not None else None


def _skip(planned: Planned, reason: str) -> None:
    planned.status, planned.reason = Status.SKIPPED, reason


def _plan(  # noqa: C901, PLR0911, PLR0912 - one decision list, read top to bottom
    planned: Planned, compiled: CompiledModel, present: set[str], chosen: set[str],
    inherited: Check | None,
) -> None:
    rule, criteria = planned.rule, planned.rule.criteria
    override = OVERRIDES.get(planned.rule_id)
    if rule.status != "Active":
        return _skip(planned, f"rule status is {rule.status}")
    if planned.severity is Severity.INFO:
        return _skip(planned, f"a permission ({criteria.keyword}), not a requirement: "
                              "no data can break it")
    if override is not None and override.action is Action.NOT_CHECKABLE:
        compiled.overrides_applied.add(planned.rule_id)
        return _skip(planned, f"not machine-checkable (model defect): {override.reason}")
    missing = [c for c in rule.applicability if ALL not in chosen and c.upper() not in chosen]
    if missing:
        return _skip(planned, f"not applicable: needs {', '.join(missing)} "
                              f"(pass --applicable {','.join(missing)} or all)")
    requirement = criteria.requirement
    if override is not None and override.action is Action.REQUIREMENT:
        requirement = override.requirement
        compiled.overrides_applied.add(planned.rule_id)
    if requirement is None:
        return _skip(planned, "not machine-checkable: the model gives no check for it")
    condition = criteria.condition
    if override is not None and override.action is Action.CONDITION:
        condition = override.condition
        compiled.overrides_applied.add(planned.rule_id)
    elif condition is not None and any(node.normalised for node in condition.walk()):
        compiled.overrides_applied.add(planned.rule_id)
        planned.reason = NORMALISED_REASON
    if (rule.function not in {"Nullability", "Presence"} and planned.column
            and planned.column in requirement.columns):
        # Value rules judge values: a null is judged by the column's Nullability rules only.
        condition = _all_of([condition, Check.of("CheckNotValue", column=planned.column)])
    if inherited is not None:
        condition = _all_of([inherited, condition])
    columns = requirement.columns | (condition.columns if condition else set())
    absent = sorted(columns - present)
    if absent:
        return _skip(planned, f"column {', '.join(absent)} not in the file")
    if not columns:
        ok = _static(requirement, present)
        if ok is None:
            return _skip(planned, "not machine-checkable: no column to check")
        planned.status = Status.PASSED if ok else Status.FAILED
        planned.rows = () if ok else (0,)
        return None
    try:
        check = _row_check(planned.rule_id, requirement, condition, present)
    except Unsupported as exc:
        return _skip(planned, f"not machine-checkable: check function {exc} is not supported")
    planned.check_key = check.key
    compiled.checks.append(check)
    if inherited is None and criteria.condition is None:
        planned.covers = _covers(requirement, planned.column)
    return None


def _row_check(key: str, requirement: Check, condition: Check | None,
               present: set[str]) -> RowCheck:
    when = _sql(condition, present) if condition is not None else "true"
    if requirement.function == "CheckDistinctCount":
        a, b = q(requirement.column_a or ""), q(requirement.column_b or "")
        if requirement.expected_count != 1:
            raise Unsupported(f"CheckDistinctCount(ExpectedCount={requirement.expected_count})")
        # Every A has exactly one B iff the distinct (A, B) pairs are as many as distinct A:
        # computed in the same scan; the difference counts the A values with extra Bs.
        return RowCheck(key, f"{a} IS NOT NULL AND ({when})", distinct=(a, b))
    required = _sql(requirement, present)
    if required == "true" or when == "false":  # e.g. TypeString: no row can break it
        return RowCheck(key, NEVER)
    if when == "true":
        return RowCheck(key, f"NOT ({required})")
    return RowCheck(key, f"({when}) AND NOT ({required})", condition=when)


def _static(check: Check, present: set[str]) -> bool | None:
    """Evaluate a tree that reads only the header (ColumnPresent under AND/OR)."""
    if check.function == "ColumnPresent":
        return check.column in present
    results = [_static(item, present) for item in check.items]
    if check.function in {"AND", "OR"} and results and None not in results:
        return all(results) if check.function == "AND" else any(results)
    return None


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unsupported(f"numeric comparison with {value!r}")
    return repr(value)


def _sql(check: Check, present: set[str]) -> str:  # noqa: C901, PLR0911, PLR0912 - a dispatch table
    """A SQL boolean, never NULL, true where ``check`` holds on a row."""
    fn = check.function
    col = q(check.column) if check.column else ""
    if fn in {"AND", "OR"}:
        if not check.items:
            return "true" if fn == "AND" else "false"
        listed = _value_list(check)
        if listed is not None:  # "one of the allowed values": one IN, not N comparisons
            column, values = listed
            return f"coalesce({sql.in_list(q(column), values)}, false)"
        paired = _pair_list(check)
        if paired is not None:  # "one of the allowed (A, B) pairs": one lookup of B by A
            key, value, mapping = paired
            return f"coalesce({sql.lookup(q(key), mapping)} = {q(value)}, false)"
        return "(" + f" {fn} ".join(_sql(item, present) for item in check.items) + ")"
    if fn == "ColumnPresent":
        return "true" if check.column in present else "false"
    if fn in {"CheckValue", "CheckNotValue"}:
        equal = _equals(col, check.value)
        return equal if fn == "CheckValue" else f"NOT {equal}"
    if fn == "CheckSameValue":
        return f"({q(check.column_a or '')} IS NOT DISTINCT FROM {q(check.column_b or '')})"
    if fn == "CheckNotSameValue":
        return f"({q(check.column_a or '')} IS DISTINCT FROM {q(check.column_b or '')})"
    if fn == "CheckGreaterOrEqualThanValue":
        return (f"({col} IS NULL OR coalesce(({sql.as_number(col)}) >= "
                f"{_number(check.value)}, false))")
    if fn == "TypeString":
        return "true"  # every value is read as text; identifiers are never typed as numbers
    if fn in {"TypeDecimal", "FormatNumeric", "CheckDecimalValue"}:
        return f"({col} IS NULL OR {sql.is_numeric(col)})"
    if fn in {"TypeDateTime", "FormatDateTime"}:
        return f"({col} IS NULL OR {sql.is_datetime(col)})"
    if fn == "FormatString":
        return f"({col} IS NULL OR {sql.not_blank(col)})"
    if fn == "FormatUnit":
        return f"({col} IS NULL OR {sql.is_unit(col)})"
    if fn == "FormatKeyValue":
        return f"({col} IS NULL OR ({sql.is_key_value(col)}))"
    if fn == "CheckNationalCurrency":
        return f"({col} IS NULL OR {sql.is_currency(col)})"
    if fn == "FormatCurrency":
        # A three-capital code must be a real ISO 4217 code; other text is a virtual currency.
        return (f"({col} IS NULL OR {sql.is_currency(col)} "
                f"OR NOT regexp_full_match({col}, '[A-Z]{{3}}'))")
    if fn == "ColumnByColumnEqualsColumnValue":
        a, b, r = (sql.as_number(q(n or "")) for n in
                   (check.column_a, check.column_b, check.result_column))
        # A null or unparseable operand leaves the row undecided here (it passes): the
        # nullability and format rules judge those values.
        return (f"coalesce(abs(({a}) * ({b}) - ({r})) <= {PRODUCT_TOLERANCE} * "
                f"greatest(abs({r}), 1), true)")
    raise Unsupported(fn)


def _value_list(check: Check) -> tuple[str, list[str]] | None:
    """(column, values) when ``check`` is an OR of CheckValue on one column with strings."""
    items = check.items
    if check.function != "OR" or len(items) < 2:
        return None
    columns = {item.column for item in items}
    if (len(columns) != 1 or any(item.function != "CheckValue" for item in items)
            or not all(isinstance(item.value, str) for item in items)):
        return None
    return str(items[0].column), [str(item.value) for item in items]


def _pair_list(check: Check) -> tuple[str, str, dict[str, str]] | None:
    """(A, B, {a: b}) when ``check`` is an OR of (A = a AND B = b) with each a listed once."""
    if check.function != "OR" or len(check.items) < 2:
        return None
    pairs = []
    for item in check.items:
        parts = item.items
        if (item.function != "AND" or len(parts) != 2
                or any(p.function != "CheckValue" or not isinstance(p.value, str) for p in parts)):
            return None
        first, second = parts
        pairs.append(((first.column, str(first.value)), (second.column, str(second.value))))
    key, value = pairs[0][0][0], pairs[0][1][0]
    mapping = {a: b for (_, a), (_, b) in pairs}
    if (key is None or value is None or key == value or len(mapping) != len(pairs)
            or any((k, v) != (key, value) for (k, _), (v, _) in pairs)):
        return None
    return key, value, mapping


def _equals(col: str, value: object) -> str:
    if value is None:
        return f"({col} IS NULL)"
    if isinstance(value, str):
        return f"coalesce({col} = {lit(value)}, false)"
    return f"coalesce(({sql.as_number(col)}) = {_number(value)}, false)"


def resolve_model_results(
    compiled: CompiledModel, outcomes: Mapping[str, CheckOutcome]
) -> list[RuleResult]:
    """Verdicts for every rule: scan outcomes, then composites and failed dependencies."""
    resolver = _Resolver(compiled, outcomes)
    return [resolver.result(rule_id) for rule_id in compiled.planned]


class _Resolver:
    def __init__(self, compiled: CompiledModel, outcomes: Mapping[str, CheckOutcome]) -> None:
        self.compiled = compiled
        self.outcomes = outcomes
        self.done: dict[str, RuleResult] = {}
        self.active: set[str] = set()

    def result(self, rule_id: str) -> RuleResult:
        if rule_id in self.done:
            return self.done[rule_id]
        planned = self.compiled.planned[rule_id]
        if rule_id in self.active:  # a dependency cycle: judge the rule on its own
            return self._own(planned)
        self.active.add(rule_id)
        try:
            result = self._resolve(planned)
        finally:
            self.active.discard(rule_id)
        self.done[rule_id] = result
        return result

    def _resolve(self, planned: Planned) -> RuleResult:
        own = self._composite(planned) if planned.rule.is_composite else self._own(planned)
        if own.status is Status.SKIPPED:
            return own
        children = set(self._children(planned))
        for dependency in planned.rule.criteria.dependencies:
            if dependency in children or dependency not in self.compiled.planned:
                continue
            verdict = self.result(dependency)
            if verdict.status is Status.FAILED and verdict.severity is Severity.ERROR:
                return self._make(planned, Status.SKIPPED,
                                  reason=f"dependency {dependency} failed")
        return own

    def _own(self, planned: Planned) -> RuleResult:
        if planned.check_key is not None:
            outcome = self.outcomes[planned.check_key]
            status = Status.FAILED if outcome.count else Status.PASSED
            return self._make(planned, status, outcome.count, outcome.rows, planned.reason)
        if planned.status is None:
            return self._make(planned, Status.SKIPPED, reason="not planned")
        count = 1 if planned.status is Status.FAILED else 0
        return self._make(planned, planned.status, count, planned.rows, planned.reason)

    def _children(self, planned: Planned) -> list[str]:
        requirement = planned.rule.criteria.requirement
        if requirement is None:
            return []
        return [n.model_rule_id for n in requirement.walk()
                if n.function == "CheckModelRule" and n.model_rule_id in self.compiled.planned]

    def _composite(self, planned: Planned) -> RuleResult:
        requirement = planned.rule.criteria.requirement
        children = [self.result(child) for child in self._children(planned)]
        judged = [c for c in children if c.status is not Status.SKIPPED]
        failed = [c for c in judged if c.status is Status.FAILED
                  and c.severity is Severity.ERROR]
        if not judged:
            return self._make(planned, Status.SKIPPED, reason="every part was skipped")
        is_or = requirement is not None and requirement.function == "OR"
        broken = len(failed) == len(judged) if is_or else bool(failed)
        reason = ("failed: " + ", ".join(c.rule_id for c in failed[:5])
                  + (", ..." if len(failed) > 5 else "")) if broken else ""
        return self._make(planned, Status.FAILED if broken else Status.PASSED,
                          len(failed) if broken else 0, reason=reason)

    def _make(self, planned: Planned, status: Status, count: int = 0,
              rows: tuple[int, ...] = (), reason: str = "") -> RuleResult:
        return RuleResult(
            planned.rule_id, planned.column, planned.severity, status,
            planned.rule.criteria.must_satisfy, count=count, rows=rows, reason=reason,
            source="model", composite=planned.rule.is_composite,
        )
