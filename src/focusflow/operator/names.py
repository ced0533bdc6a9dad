"""Child object names and labels: DNS-safe, at most 63 characters, stable (operator layer).

Krateo builds child names by appending a suffix to the CR name and later strips the suffix to
find the owner again (reference section 9, R18). focusflow only derives names one way: the
readable form ``<cr>-<suffix>`` when it is a valid DNS-1035 label, otherwise a shortened,
sanitised prefix plus a stable hash of the full CR name. Owners are found through
ownerReferences, never by parsing a name.
"""

from __future__ import annotations

import hashlib
import re

MAX_LABEL = 63
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_INVALID = re.compile(r"[^a-z0-9-]+")

MANAGED_BY = "focusflow-operator"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PART_OF = "app.kubernetes.io/part-of"


def is_dns_label(name: str) -> bool:
    """True for a DNS-1035 label (also a valid DNS-1123 label and label value)."""
    return len(name) <= MAX_LABEL and bool(_DNS1035.match(name))


def _digest(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def child_name(parent: str, suffix: str, max_len: int = MAX_LABEL) -> str:
    """``<parent>-<suffix>`` when valid, else a sanitised prefix + ``-<hash>-<suffix>``.

    The result is a DNS-1035 label of at most ``max_len`` characters, so it is valid for every
    kind (Services need DNS-1035; CronJobs need <= 52 because Jobs append 11) and usable as a
    label value. The same inputs always give the same name.
    """
    readable = f"{parent}-{suffix}" if suffix else parent
    if is_dns_label(readable) and len(readable) <= max_len:
        return readable
    tail = f"-{_digest(parent)}" + (f"-{suffix}" if suffix else "")
    stem = _INVALID.sub("-", parent.lower()).strip("-")
    stem = re.sub(r"-{2,}", "-", stem)
    if not stem or not stem[0].isalpha():
        stem = f"ff-{stem}".rstrip("-")
    stem = stem[: max_len - len(tail)].rstrip("-")
    return f"{stem}{tail}"


def volume_name(prefix: str, key: str) -> str:
    """A pod volume name (DNS-1123 label) that identifies ``key`` by hash."""
    return f"{prefix}-{_digest(key, 10)}"


def labels(instance: str, component: str) -> dict[str, str]:
    """The recommended labels on every child; ``instance`` must already be a safe name."""
    return {
        LABEL_NAME: "focusflow",
        LABEL_INSTANCE: instance,
        LABEL_COMPONENT: component,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_PART_OF: "focusflow",
    }


def selector(instance: str, component: str) -> dict[str, str]:
    """The immutable subset of :func:`labels` used in Deployment selectors."""
    return {LABEL_NAME: "focusflow", LABEL_INSTANCE: instance, LABEL_COMPONENT: component}
