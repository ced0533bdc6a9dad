"""The focusflow Kubernetes operator: kopf handlers over pure render functions (operator layer).

``render_tree`` / ``render_files`` are what ``focusflow operator render`` prints and what the
handlers apply (through ``reconcile``); ``run_operator`` starts kopf. kopf is imported only by
``handlers`` so rendering works without the ``k8s`` extra.
"""

from focusflow.operator.render import load_manifests, redact, render_files, render_tree
from focusflow.operator.settings import OperatorSettings

__all__ = ["OperatorSettings", "load_manifests", "redact", "render_files", "render_tree"]
