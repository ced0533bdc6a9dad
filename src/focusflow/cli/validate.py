"""``focusflow validate``: FOCUS conformance findings for a file, as text, JSON lines or JUnit XML.

CLI layer: flags to ``ValidateOptions``, the report to Rich/JSON/XML. Exit codes: 0 clean
(warnings allowed), 1 a MUST-level rule failed, 2 the input could not be read at all.
"""

from __future__ import annotations

import gc
import json
from dataclasses import replace
from enum import StrEnum
from itertools import groupby
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from focusflow.cli.app import (
    EXIT_UNREADABLE,
    LogJson,
    LogLevel,
    app,
    console,
    err_console,
    fail,
    setup_logging,
)
from focusflow.cli.options import NullValueOption, http_options, null_values
from focusflow.errors import ConfigError, InputError, SourceError
from focusflow.focus.validation import (
    Report,
    RequirementsModel,
    RuleResult,
    Severity,
    Status,
    ValidateOptions,
    find_cached_model,
    how_to_get_model,
    load_model,
    validate,
)

EXIT_FINDINGS = 1
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"


@app.command("validate")
def validate_command(
    file: Annotated[str, typer.Argument(help="FOCUS file: path, http(s):// or s3:// URL "
                                             "(CSV, CSV.gz, Parquet, JSON).")],
    focus_version: Annotated[str | None, typer.Option(
        help="FOCUS version to check against (default: detected from the header).")] = None,
    output: Annotated[OutputFormat, typer.Option(
        "--format", help="text (grouped by column, worst first), json (one object per line "
                         "per rule) or junit (XML for CI).")] = OutputFormat.TEXT,
    rules: Annotated[Path | None, typer.Option(
        help="Requirements model JSON to check against (default: the cached model for the "
             "file's FOCUS version; see 'focusflow rules fetch').")] = None,
    model: Annotated[bool, typer.Option(
        help="Use the requirements model; --no-model checks the column catalogue only.")] = True,
    applicable: Annotated[str | None, typer.Option(
        help="Applicability criteria that hold for the provider, comma-separated, or 'all' "
             "(see 'focusflow rules criteria').")] = None,
    first_rows: Annotated[int, typer.Option(
        min=1, max=1000, help="How many offending row numbers to show per rule.")] = 10,
    show_passed: Annotated[bool, typer.Option(
        help="JSON: include passed and skipped rules, not only failures.")] = False,
    header: Annotated[list[str] | None, typer.Option(
        "--header", "-H", help="Extra HTTP header 'Name: value' (repeatable).")] = None,
    bearer_token: Annotated[str | None, typer.Option(
        envvar="FOCUSFLOW_BEARER_TOKEN", help="Bearer token for http(s) sources.")] = None,
    ca_file: Annotated[str | None, typer.Option(help="CA bundle for https sources.")] = None,
    null_value: NullValueOption = None,
    log_level: LogLevel = "INFO",
    log_json: LogJson = False,
) -> None:
    """Check a FOCUS file: rule, column, offending row count and first rows per finding."""
    # What is loaded by now (libraries, the command table) lives as long as the process: the
    # cyclic collector need not walk it again at every full collection during the scan.
    gc.freeze()
    setup_logging(log_level, log_json)
    criteria = frozenset(c.strip() for c in (applicable or "").split(",") if c.strip())
    options = ValidateOptions(
        focus_version=focus_version, first_rows=first_rows,
        http=http_options(header, bearer_token, None, None, ca_file, False),
        applicable=criteria, null_values=null_values(null_value),
    )
    try:
        report = validate_with_model(file, options, rules, use_model=model)
    except (InputError, SourceError) as exc:
        _print_unreadable(file, str(exc), output)
        raise fail(f"unreadable input: {exc}", EXIT_UNREADABLE) from None
    if output is OutputFormat.JSON:
        _print_json(report, show_passed)
    elif output is OutputFormat.JUNIT:
        from focusflow.focus.validation.junit import to_junit  # noqa: PLC0415 - xml.etree

        console.out(to_junit(report), highlight=False)
    else:
        _print_text(report)
    if report.has_errors:
        raise typer.Exit(EXIT_FINDINGS)


def validate_with_model(
    file: str, options: ValidateOptions, rules: Path | None, *, use_model: bool
) -> Report:
    """Validate with the model from ``rules``, else the cached one for the file's version.

    Without a cached model the catalogue rules still run; a note names ``rules fetch``.
    Asking for applicability criteria without any model is an error (they select model rules).
    """
    if not use_model:
        return validate(file, options)
    if rules is not None:
        return validate(file, replace(options, model=load_model(rules)))

    def cached_model(version: str) -> RequirementsModel | None:
        # Called with the header's version as the file is opened for the scan: the file is
        # opened once (a first opening just to read the version started Arrow's read-ahead).
        cached = find_cached_model(version)
        if cached is not None:
            return cached[1]
        hint = how_to_get_model(version)
        if options.applicable:
            raise ConfigError(f"--applicable selects rules of the FOCUS requirements model, and "
                              f"no FOCUS {version} model is cached: {hint}")
        err_console.print(f"[yellow]note:[/] no FOCUS {version} requirements model cached; "
                          f"checking the column catalogue only (for the full conformance "
                          f"rules: {hint})", highlight=False, soft_wrap=True)
        return None

    return validate(file, replace(options, model_for_version=cached_model))


def _print_unreadable(file: str, message: str, output: OutputFormat) -> None:
    """JSON and JUnit consumers get the failure on stdout too (the error line is on stderr)."""
    if output is OutputFormat.JSON:
        console.out(json.dumps({"file": file, "status": "unreadable", "message": message},
                               ensure_ascii=False), highlight=False)
    elif output is OutputFormat.JUNIT:
        from focusflow.focus.validation.junit import unreadable_junit  # noqa: PLC0415

        console.out(unreadable_junit(file, message), highlight=False)


def _print_json(report: Report, show_passed: bool) -> None:
    results = report.results if show_passed else report.failures
    lines = [json.dumps({"file": report.file, "focus_version": report.version, **r.as_dict()},
                        ensure_ascii=False) for r in results]
    if lines:
        # One plain write: JSON escapes every control character, so Rich (which re-scans the
        # text for control codes, 20 ms on 600+ rules) would print the same bytes.
        console.file.write("\n".join(lines) + "\n")


def _print_text(report: Report) -> None:
    failures = report.failures
    console.print(f"[bold]{report.file}[/]: FOCUS {report.version} {report.dataset}, "
                  f"{report.rows:,} rows, {len(report.results)} rule checks", highlight=False)
    if report.model_version:
        skipped = report.count(Status.SKIPPED)
        console.print(f"requirements model {report.model_version}: "
                      f"{report.count(Status.PASSED)} passed, {skipped} skipped "
                      "(--format json --show-passed lists why)", highlight=False)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    if report.overrides_applied:
        console.print("model defects corrected (see docs/validate.md): "
                      + ", ".join(report.overrides_applied), highlight=False)
    if not failures:
        console.print("[green]no findings[/]")
        return
    by_column = sorted(failures, key=lambda r: (r.column or "", r.severity.rank, -r.count))
    groups = [list(g) for _, g in groupby(by_column, key=lambda r: r.column or "")]
    # Worst column first: any error before warnings, then the most offending rows.
    groups.sort(key=lambda g: (min(r.severity.rank for r in g), -sum(r.count for r in g)))
    for group in groups:
        console.print(f"[bold]{group[0].column or '(file)'}[/]", highlight=False)
        for result in group:
            console.print(_line(result), highlight=False, soft_wrap=True)
    errors = sum(1 for r in failures if r.severity is Severity.ERROR)
    console.print(f"{errors} error(s), {len(failures) - errors} warning(s)")


def _line(result: RuleResult) -> str:
    rows = ", ".join("header" if n == 0 else str(n) for n in result.rows)
    if result.count > len(result.rows) and result.rows:
        rows += ", ..."
    where = f"{result.count:,} row(s): {rows}" if rows else f"{result.count:,} finding(s)"
    style = _STYLE[result.severity]
    text = (f"  [{style}]{result.severity.value:<7}[/] {escape(result.rule_id)}  {where}\n"
            f"          {escape(result.message)}")
    if result.reason:
        text += f"\n          [dim]{escape(result.reason)}[/]"
    return text
