"""The FOCUS validator: catalogue rules and the spec's requirements model, checked in one scan.

Model layer (pure: no CLI, no Kubernetes). ``validate`` opens a file from any location, runs
every rule as SQL in DuckDB over the raw text and returns a ``Report`` of ``RuleResult``s.
"""

from typing import TYPE_CHECKING

from focusflow.focus.validation.engine import (
    ValidateOptions,
    offending_rows,
    probe_version,
    validate,
)
from focusflow.focus.validation.fetch import (
    PUBLISHED_MODEL_VERSIONS,
    cached_models,
    fetch_model,
    find_cached_model,
    how_to_get_model,
)
from focusflow.focus.validation.findings import Report, RuleResult, Severity, Status
from focusflow.focus.validation.model import RequirementsModel, load_model
from focusflow.focus.validation.overrides import OVERRIDES, Override
from focusflow.lazy import lazy_exports

if TYPE_CHECKING:
    from focusflow.focus.validation.junit import to_junit, unreadable_junit
    from focusflow.focus.validation.settings import RulesSettings


# RulesSettings imports pydantic-settings (0.07 s): only 'rules' and callers with their own
# settings need it, never 'validate'. The JUnit writer imports xml.etree (3 ms): only the
# junit format needs it.
__getattr__ = lazy_exports(__name__, {"RulesSettings": "settings", "to_junit": "junit",
                                      "unreadable_junit": "junit"})


__all__ = [
    "OVERRIDES",
    "PUBLISHED_MODEL_VERSIONS",
    "Override",
    "Report",
    "RequirementsModel",
    "RuleResult",
    "RulesSettings",
    "Severity",
    "Status",
    "ValidateOptions",
    "cached_models",
    "fetch_model",
    "find_cached_model",
    "how_to_get_model",
    "load_model",
    "offending_rows",
    "probe_version",
    "to_junit",
    "unreadable_junit",
    "validate",
]
