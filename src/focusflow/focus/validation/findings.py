"""What a validation run produces: one ``RuleResult`` per rule checked, gathered in a ``Report``.

Model layer, pure data. A rule ends as passed, failed (with the number of offending rows and the
first row numbers, data rows counted from 1; row 0 is the header) or skipped with a reason. The
severity comes from the rule's keyword: MUST/MUST NOT fail the file, SHOULD/RECOMMENDED are
warnings, MAY is information.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Sort key: errors first."""
        return {"error": 0, "warning": 1, "info": 2}[self.value]

    @classmethod
    def from_keyword(cls, keyword: str) -> Severity:
        """MUST/MUST NOT: error; SHOULD/SHOULD NOT/RECOMMENDED: warning; MAY/OPTIONAL: info."""
        word = keyword.strip().upper()
        if word.startswith("MUST") or word in {"REQUIRED", "SHALL", "SHALL NOT"}:
            return cls.ERROR
        if word.startswith("SHOULD") or word.startswith("RECOMMENDED"):
            return cls.WARNING
        return cls.INFO


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class RuleResult:
    """The verdict on one rule for one file."""

    rule_id: str
    column: str | None
    severity: Severity
    status: Status
    message: str
    count: int = 0
    rows: tuple[int, ...] = ()
    reason: str = ""
    source: str = "catalogue"
    composite: bool = False  # a model rule that only combines other rules' verdicts

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule_id,
            "column": self.column,
            "severity": self.severity.value,
            "status": self.status.value,
            "count": self.count,
            "rows": list(self.rows),
            "message": self.message,
            "reason": self.reason or None,
            "source": self.source,
            "composite": self.composite,
        }


@dataclass
class Report:
    """Every rule result for one file, plus what the run was about."""

    file: str
    version: str
    dataset: str
    rows: int
    results: list[RuleResult] = field(default_factory=list)
    model_version: str | None = None
    overrides_applied: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[RuleResult]:
        """Failed rules, worst first (severity, then offending row count).

        Composite model rules are left out: they fail exactly when a part fails, which is
        already listed.
        """
        failed = [r for r in self.results if r.status is Status.FAILED and not r.composite]
        return sorted(failed, key=lambda r: (r.severity.rank, -r.count, r.column or "", r.rule_id))

    @property
    def has_errors(self) -> bool:
        return any(r.severity is Severity.ERROR for r in self.failures)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)
