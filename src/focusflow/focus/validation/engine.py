"""Validate one FOCUS file: open it, collect the rules, run them in one scan, build the report.

Model layer; the entry point other layers call (``validate``). Rules come from the column
catalogue (always) and, when given, from the FOCUS requirements model compiled to SQL
(``model_rules.py``). Unreadable input (missing, empty, not UTF-8, binary, ragged rows) raises
``InputError``/``SourceError``, which the CLI maps to exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from focusflow.errors import InputError
from focusflow.focus.locations import HttpOptions
from focusflow.focus.validation import catalogue_rules
from focusflow.focus.validation.findings import Report, RuleResult, Status
from focusflow.focus.validation.scan import locate_ragged_row, open_for_validation, run_checks


@dataclass(frozen=True)
class ValidateOptions:
    """How to validate: version override, requirements model, applicability criteria."""

    focus_version: str | None = None
    http: HttpOptions | None = None
    first_rows: int = 10


def validate(uri: str, options: ValidateOptions | None = None) -> Report:
    """Check ``uri`` against the catalogue rules (and the model's, if any) in one scan."""
    options = options or ValidateOptions()
    try:
        return _validate(uri, options)
    except InputError as exc:
        raise locate_ragged_row(uri, exc, http=options.http) from exc


def _validate(uri: str, options: ValidateOptions) -> Report:
    opened = open_for_validation(uri, http=options.http, focus_version=options.focus_version)
    try:
        layout = opened.layout
        results: list[RuleResult] = catalogue_rules.header_results(layout)
        rules = catalogue_rules.row_rules(layout)
        checks = [rule.check for rule in rules]
        scan = run_checks(opened.text, layout, checks, file=opened.name,
                          first_n=options.first_rows)
    finally:
        opened.close()
    for rule in rules:
        outcome = scan.outcomes[rule.check.key]
        results.append(RuleResult(
            rule.rule_id, rule.column, rule.severity,
            Status.FAILED if outcome.count else Status.PASSED, rule.message,
            count=outcome.count, rows=outcome.rows,
        ))
    report = Report(opened.name, layout.version, layout.dataset.value, scan.rows, results)
    return report
