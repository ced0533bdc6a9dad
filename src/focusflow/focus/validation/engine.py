"""Validate one FOCUS file: open it, collect the rules, run them in one scan, build the report.

Model layer; the entry point other layers call (``validate``). Rules come from the column
catalogue (always) and, when given, from the FOCUS requirements model compiled to SQL
(``model_rules.py``). Unreadable input (missing, empty, not UTF-8, binary, ragged rows) raises
``InputError``/``SourceError``, which the CLI maps to exit code 2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from focusflow.errors import InputError
from focusflow.focus.catalogue import require_supported
from focusflow.focus.formats import DEFAULT_NULL_TOKENS
from focusflow.focus.locations import HttpOptions
from focusflow.focus.validation import catalogue_rules
from focusflow.focus.validation.findings import Report, RuleResult, Severity, Status
from focusflow.focus.validation.model import RequirementsModel
from focusflow.focus.validation.model_rules import (
    compile_model,
    covered_catalogue_rules,
    resolve_model_results,
)
from focusflow.focus.validation.scan import (
    OpenedFile,
    RowCheck,
    ScanResult,
    locate_ragged_row,
    open_for_validation,
    run_checks,
)
from focusflow.focus.validation.scan import offending_rows as scan_offending


@dataclass(frozen=True)
class ValidateOptions:
    """How to validate: version override, requirements model, applicability criteria.

    Without ``model``, ``model_for_version`` (when given) chooses one from the FOCUS version
    of the file's header, read as the file is opened for the scan (no second opening).
    """

    focus_version: str | None = None
    http: HttpOptions | None = None
    first_rows: int = 10
    model: RequirementsModel | None = None
    model_for_version: Callable[[str], RequirementsModel | None] | None = None
    applicable: frozenset[str] = field(default_factory=frozenset)
    null_values: tuple[str, ...] = DEFAULT_NULL_TOKENS

    def __post_init__(self) -> None:
        if self.focus_version is not None:  # 0.5, 1.5: named as unsupported, up front
            require_supported(self.focus_version)


def validate(uri: str, options: ValidateOptions | None = None) -> Report:
    """Check ``uri`` against the catalogue rules (and the model's, if any) in one scan."""
    options = options or ValidateOptions()
    try:
        return _validate(uri, options)
    except InputError as exc:
        raise locate_ragged_row(uri, exc, http=options.http) from exc


def offending_rows(uri: str, options: ValidateOptions | None = None) -> dict[int, RuleResult]:
    """Rows breaking a row-level MUST rule (catalogue or model), each with one rule it breaks.

    What ``ingest --validate --skip-invalid`` quarantines. Set-level rules (distinct counts)
    and header rules name no row and are not included.
    """
    options = options or ValidateOptions()
    opened = open_for_validation(uri, http=options.http, focus_version=options.focus_version,
                                 null_values=options.null_values)
    try:
        layout = opened.layout
        rules: dict[str, RuleResult] = {}
        checks = []
        for rule in catalogue_rules.row_rules(layout):
            if rule.severity is Severity.ERROR:
                checks.append(rule.check)
                rules[rule.check.key] = RuleResult(rule.rule_id, rule.column, rule.severity,
                                                   Status.FAILED, rule.message)
        if options.model is not None:
            compiled = compile_model(options.model, layout, options.applicable)
            by_key = {c.key: c for c in compiled.checks}
            for planned in compiled.planned.values():
                if planned.check_key and planned.severity is Severity.ERROR:
                    checks.append(by_key[planned.check_key])
                    rules[planned.check_key] = RuleResult(
                        planned.rule_id, planned.column, planned.severity, Status.FAILED,
                        planned.rule.criteria.must_satisfy, source="model")
        found = scan_offending(opened.text, layout, checks, file=opened.name)
    finally:
        opened.close()
    return {row: rules[key] for row, key in sorted(found.items())}


def _scan(opened: OpenedFile, checks: list[RowCheck], options: ValidateOptions) -> ScanResult:
    """Every check over the file's rows in one streaming pass."""
    return run_checks(opened.text, opened.layout, checks, file=opened.name,
                      first_n=options.first_rows)


def probe_version(uri: str, options: ValidateOptions | None = None) -> str:
    """The FOCUS version of ``uri``'s header (reads only the start of the file)."""
    options = options or ValidateOptions()
    try:
        opened = open_for_validation(uri, http=options.http, focus_version=options.focus_version,
                                 null_values=options.null_values)
    except InputError as exc:
        raise locate_ragged_row(uri, exc, http=options.http) from exc
    try:
        return opened.layout.version
    finally:
        opened.close()


def _validate(uri: str, options: ValidateOptions) -> Report:
    opened = open_for_validation(uri, http=options.http, focus_version=options.focus_version,
                                 null_values=options.null_values)
    try:
        layout = opened.layout
        results: list[RuleResult] = catalogue_rules.header_results(layout)
        typed, notes = catalogue_rules.stored_type_results(layout, opened.text.source_types)
        results.extend(typed)
        rules = catalogue_rules.row_rules(layout)
        compiled = None
        model = options.model
        if model is None and options.model_for_version is not None:
            model = options.model_for_version(layout.version)
        if model is not None and model.datasets and layout.dataset.value not in model.datasets:
            notes.append(f"the requirements model {model.model_version} has no rules for the "
                         f"{layout.dataset.value} dataset; catalogue rules only")
            model = None
        if model is not None:
            if model.focus_version != layout.version:
                notes.append(f"FOCUS {layout.version} file checked with a FOCUS "
                             f"{model.focus_version} requirements model")
            compiled = compile_model(model, layout, options.applicable)
            # A catalogue rule the model checks itself runs (and is reported) once.
            covered = covered_catalogue_rules(compiled)
            rules = [r for r in rules if (r.rule_id, r.column) not in covered]
        checks = [rule.check for rule in rules] + (compiled.checks if compiled else [])
        scan = _scan(opened, checks, options)
    finally:
        opened.close()
    for rule in rules:
        outcome = scan.outcomes[rule.check.key]
        results.append(RuleResult(
            rule.rule_id, rule.column, rule.severity,
            Status.FAILED if outcome.count else Status.PASSED, rule.message,
            count=outcome.count, rows=outcome.rows,
        ))
    report = Report(opened.name, layout.version, layout.dataset.value, scan.rows, results,
                    notes=notes)
    if compiled is not None:
        report.results.extend(resolve_model_results(compiled, scan.outcomes))
        report.model_version = compiled.model.model_version
        report.overrides_applied = sorted(compiled.overrides_applied)
    return report
