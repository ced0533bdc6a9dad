"""Known defects of the published FOCUS requirements model, and how focusflow corrects them.

Model layer, data only. Each entry names a rule, what is wrong with its encoding and what we
do instead; ``docs/validate.md`` shows the same table. A report lists the overrides that applied
to the run, so nobody mistakes a corrected verdict for the model's own. Keep this table small:
fix the model upstream and delete the entry once a fixed model is published.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from focusflow.focus.validation.model import Check


class Action(StrEnum):
    NOT_CHECKABLE = "not-checkable"  # skip with the reason: the data cannot decide the rule
    CONDITION = "condition"  # replace the rule's condition with the one its text states
    REQUIREMENT = "requirement"  # replace the rule's requirement with the one the spec states


@dataclass(frozen=True, slots=True)
class Override:
    rule_id: str
    action: Action
    reason: str
    condition: Check | None = None
    requirement: Check | None = None


OVERRIDES: dict[str, Override] = {o.rule_id: o for o in (
    Override(
        "InvoiceId-C-004-C", Action.NOT_CHECKABLE,
        "the text says InvoiceId MUST be null *when the charge is not associated with an "
        "invoice*; the model encodes no condition, so enforcing it would demand InvoiceId be "
        "null on every row (FOCUS_Spec#2394, focus_validator#142). Whether a charge has an "
        "invoice is not in the data.",
    ),
    Override(
        "EffectiveCost-C-005-C", Action.NOT_CHECKABLE,
        "the text says EffectiveCost MUST be 0 for a Purchase *intended to cover future "
        "eligible charges*; the model keeps only ChargeCategory = 'Purchase', which flags "
        "one-time purchases whose EffectiveCost is rightly their cost. The intent is not in "
        "the data.",
    ),
    Override(
        "CommitmentDiscountStatus-C-004-C", Action.CONDITION,
        "the model's condition is 'CommitmentDiscountId is null', the opposite of the text "
        "('MUST NOT be null when CommitmentDiscountId is not null and ChargeCategory is "
        "\"Usage\"'); we use the text's condition.",
        Check.of("AND", Check.of("CheckNotValue", column="CommitmentDiscountId"),
                 Check.of("CheckValue", column="ChargeCategory", value="Usage")),
    ),
    Override(
        "CommitmentDiscountStatus-C-005-M", Action.REQUIREMENT,
        "the model lists the allowed values as Active, Expired, Pending; the FOCUS 1.2 column "
        "definition allows Used and Unused (and every provider sample uses them).",
        requirement=Check.of("OR", *(Check.of("CheckValue", column="CommitmentDiscountStatus",
                                              value=value) for value in ("Used", "Unused"))),
    ),
)}

NORMALISED_REASON = (
    "the model writes this condition as {\"AND\": [...]} without a CheckFunction (tools that "
    "expect one ignore the condition); read as the AND it means"
)
