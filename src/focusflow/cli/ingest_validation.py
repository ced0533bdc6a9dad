"""``focusflow ingest --validate``: check FOCUS conformance before anything is loaded.

CLI layer, wiring only. Every source is validated first (catalogue rules plus the cached
requirements model for its FOCUS version, as ``focusflow validate`` does). Without
``--skip-invalid`` a source with a failed MUST rule stops the whole command before any load.
With it, the rows that break a row-level MUST rule are quarantined: the load reads the source
itself (same identity, same name in the rejects file) and sets those rows aside with the rule
they break and their cells (``FocusReader(quarantine=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from focusflow import interrupts
from focusflow.errors import InputError
from focusflow.focus import HttpOptions, Quarantined

if TYPE_CHECKING:
    from focusflow.focus.validation import Report, ValidateOptions


@dataclass
class Prepared:
    """What to load for one source after validation: the rows to set aside, by row number."""

    uri: str
    source_id: str | None
    quarantine: dict[int, Quarantined] = field(default_factory=dict)


def prevalidate(uris: list[str], *, focus_version: str | None, http: HttpOptions,
                skip_invalid: bool, source_id: str | None,
                null_values: tuple[str, ...]) -> list[Prepared]:
    """Validate every source; refuse or quarantine as described in the module docstring."""
    # The engine loads only when --validate asks for it: plain ingests start faster.
    from focusflow.focus.validation import validate  # noqa: PLC0415

    interrupts.check()  # a stop that landed inside the import (``interrupts``)
    prepared = []
    for uri in uris:
        options = _options(uri, focus_version, http, null_values)
        report = validate(uri, options)
        if not report.has_errors:
            prepared.append(Prepared(uri, source_id))
            continue
        if not skip_invalid:
            raise InputError(_refusal(report), file=report.file)
        prepared.append(_quarantine(uri, options, source_id, report))
    return prepared


def _options(uri: str, focus_version: str | None, http: HttpOptions,
             null_values: tuple[str, ...]) -> ValidateOptions:
    from focusflow.focus.validation import (  # noqa: PLC0415 - see prevalidate
        ValidateOptions,
        find_cached_model,
        probe_version,
    )

    options = ValidateOptions(focus_version=focus_version, http=http, null_values=null_values)
    cached = find_cached_model(focus_version or probe_version(uri, options))
    return replace(options, model=cached[1]) if cached else options


def _refusal(report: Report) -> str:
    from focusflow.focus.validation import Severity  # noqa: PLC0415 - see prevalidate

    errors = [r for r in report.failures if r.severity is Severity.ERROR]
    shown = "; ".join(
        f"{r.rule_id} on {r.column or 'the file'} (rows "
        f"{', '.join('header' if n == 0 else str(n) for n in r.rows[:5])})"
        for r in errors[:5]
    )
    more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
    return (f"not loaded: {len(errors)} FOCUS MUST rule(s) fail: {shown}{more} (run "
            "'focusflow validate' for details, or --skip-invalid to quarantine bad rows)")


def _quarantine(uri: str, options: ValidateOptions, source_id: str | None,
                report: Report) -> Prepared:
    from focusflow.focus.validation import Severity, offending_rows  # noqa: PLC0415 - see above

    file_level = [r for r in report.failures if r.severity is Severity.ERROR and
                  (not r.rows or r.rows == (0,))]
    if file_level:
        raise InputError(f"not loaded: {file_level[0].rule_id} fails for the whole file "
                         f"({file_level[0].message}); rows cannot be quarantined for it",
                         file=report.file)
    bad = offending_rows(uri, options)
    return Prepared(uri, source_id, {
        row: Quarantined(rule.column or "", rule.rule_id, rule.message)
        for row, rule in bad.items()})
