"""The FOCUS validator: catalogue rules and the spec's requirements model, checked in one scan.

Model layer (pure: no CLI, no Kubernetes). ``validate`` opens a file from any location, runs
every rule as SQL in DuckDB over the raw text and returns a ``Report`` of ``RuleResult``s.
"""

from focusflow.focus.validation.engine import ValidateOptions, validate
from focusflow.focus.validation.findings import Report, RuleResult, Severity, Status

__all__ = ["Report", "RuleResult", "Severity", "Status", "ValidateOptions", "validate"]
