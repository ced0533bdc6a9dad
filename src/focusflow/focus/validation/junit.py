"""A validation report as JUnit XML, the format CI systems (GitLab, Jenkins, GitHub) display.

Model layer, pure. One ``<testsuite>`` per file, one ``<testcase>`` per rule: a failed MUST rule
is a ``<failure>``, a failed SHOULD rule a ``<failure type="warning">`` (CI shows it without
the exit code failing the job), a skipped rule a ``<skipped>`` with its reason. A file that
cannot be read is one ``<testcase name="read">`` with an ``<error>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from focusflow.focus.validation.findings import Report, RuleResult, Severity, Status


def to_junit(report: Report) -> str:
    results = report.results
    suite = ET.Element("testsuite", {
        "name": f"FOCUS {report.version} conformance: {report.file}",
        "tests": str(len(results)),
        "failures": str(sum(1 for r in results if r.status is Status.FAILED)),
        "skipped": str(sum(1 for r in results if r.status is Status.SKIPPED)),
        "errors": "0",
    })
    properties = ET.SubElement(suite, "properties")
    for name, value in (("focus_version", report.version), ("dataset", report.dataset),
                        ("rows", str(report.rows)), ("model", report.model_version or "none"),
                        ("overrides", ", ".join(report.overrides_applied) or "none")):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    for result in results:
        suite.append(_case(result))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _case(result: RuleResult) -> ET.Element:
    case = ET.Element("testcase", {
        "classname": result.column or "(file)", "name": result.rule_id,
    })
    if result.status is Status.FAILED:
        rows = ", ".join("header" if n == 0 else str(n) for n in result.rows)
        failure = ET.SubElement(case, "failure", {
            "type": "error" if result.severity is Severity.ERROR else result.severity.value,
            "message": f"{result.count} offending row(s)" + (f": {rows}" if rows else ""),
        })
        failure.text = result.message + (f"\n{result.reason}" if result.reason else "")
    elif result.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", {"message": result.reason})
    return case


def unreadable_junit(file: str, message: str) -> str:
    """JUnit XML for a file that could not be read: one errored test case saying why."""
    suite = ET.Element("testsuite", {"name": f"FOCUS conformance: {file}", "tests": "1",
                                     "failures": "0", "skipped": "0", "errors": "1"})
    case = ET.SubElement(suite, "testcase", {"classname": "(file)", "name": "read"})
    ET.SubElement(case, "error", {"type": "unreadable", "message": message})
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
