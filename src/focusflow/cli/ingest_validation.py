"""``focusflow ingest --validate``: check FOCUS conformance before anything is loaded.

CLI layer, wiring only. Every source is validated first (catalogue rules plus the cached
requirements model for its FOCUS version, as ``focusflow validate`` does). Without
``--skip-invalid`` a source with a failed MUST rule stops the whole command before any load.
With it, the rows that break a row-level MUST rule are quarantined: the rest of the file is
loaded (from a filtered copy, under the original source identity) and the bad rows go to the
rejects file with the rule they break.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv

from focusflow.errors import InputError
from focusflow.focus import HttpOptions, Reject, display_name, open_location
from focusflow.focus.formats import open_text_batches
from focusflow.ingest import IngestOutcome

if TYPE_CHECKING:
    from focusflow.focus.validation import Report, ValidateOptions


@dataclass
class Prepared:
    """What to load for one source after validation."""

    uri: str
    source_id: str | None
    rejects: list[Reject] = field(default_factory=list)
    temp: Path | None = None


def prevalidate(uris: list[str], *, focus_version: str | None, http: HttpOptions,
                skip_invalid: bool, source_id: str | None,
                null_values: tuple[str, ...]) -> list[Prepared]:
    """Validate every source; refuse or quarantine as described in the module docstring."""
    # The engine loads only when --validate asks for it: plain ingests start faster.
    from focusflow.focus.validation import validate  # noqa: PLC0415

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


def with_rejects(outcomes: list[IngestOutcome], item: Prepared) -> list[IngestOutcome]:
    """The outcomes of loading ``item``, carrying its quarantined rows; its copy removed."""
    if outcomes and item.rejects:
        outcomes[0].rejects.extend(item.rejects)
    if item.temp is not None:
        shutil.rmtree(item.temp.parent, ignore_errors=True)
    return outcomes


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
    temp = Path(tempfile.mkdtemp(prefix="focusflow-valid-")) / "rows.csv"
    _write_without(uri, options, set(bad), temp)
    rejects = [Reject(row, rule.column or "", None, f"{rule.rule_id}: {rule.message}")
               for row, rule in bad.items()]
    return Prepared(str(temp), source_id or _identity(uri), rejects, temp)


def _identity(uri: str) -> str:
    # The identity the source would have had when loaded directly (ingest's default).
    path = Path(uri)
    return str(path.resolve()) if "://" not in uri and path.exists() else display_name(uri)


def _write_without(uri: str, options: ValidateOptions, bad: set[int], out: Path) -> None:
    """Copy ``uri`` as CSV text without the rows in ``bad`` (one streaming pass)."""
    opened = open_location(uri, options.http)
    try:
        text = open_text_batches(opened.stream, file=opened.display,
                                 null_values=options.null_values)
        schema = pa.schema([pa.field(name, pa.string()) for name in text.header])
        with pacsv.CSVWriter(out, schema) as writer:
            for batch in _kept(text.batches, bad):
                writer.write_batch(batch.cast(schema) if batch.schema != schema else batch)
    finally:
        opened.close()


def _kept(batches: Iterator[pa.RecordBatch], bad: set[int]) -> Iterator[pa.RecordBatch]:
    first = 1
    for batch in batches:
        rows = range(first, first + batch.num_rows)
        first += batch.num_rows
        mask = pa.array([row not in bad for row in rows])
        yield batch.filter(mask)
