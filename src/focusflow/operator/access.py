"""Who may reach a pipeline's exporter: its NetworkPolicy and its ``/rows`` token (operator layer).

Issue 15: any pod in the cluster could download a pipeline's whole bill from ``/rows``. Two
locks, rendered per ExporterScraperConfig:

- a ``NetworkPolicy`` selecting the exporter pods: ingress on the exporter port only from the
  pipeline's scraper pods and from Prometheus (a namespace and pod selector from the operator
  settings). Everything else in the cluster is refused at the network.
- a bearer token ``/rows`` requires, in the key ``token`` of the pipeline's endpoint Secret
  (which also holds ``server-url``, Krateo's format): the scraper sends it as it sends any
  endpoint token; the exporter mounts that one key and reads it at every request.

The token is ``HMAC-SHA256(key, uid/generation)``: the same for every reconcile of one spec
(render stays pure and the Secret is applied blindly, so the operator never reads Secrets), a
new one when the spec changes (its generation moves), unguessable without the key. The key is
``FOCUSFLOW_OPERATOR_TOKEN_KEY`` (deploy/operator.yaml reads it from a Secret); without one the
operator makes a key per process, so tokens are replaced when it restarts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

from focusflow.operator import names
from focusflow.operator.pods import SECRETS_DIR, Manifest
from focusflow.operator.settings import OperatorSettings

TOKEN_KEY = "token"  # noqa: S105 - the Secret key's name, not a secret


@cache
def _process_key() -> bytes:
    return secrets.token_bytes(32)


def rows_token(body: Manifest, settings: OperatorSettings) -> str:
    """The ``/rows`` token of this CR's current spec (see the module docstring)."""
    meta = body["metadata"]
    key = (settings.token_key.get_secret_value().encode() if settings.token_key
           else _process_key())
    message = f"{meta.get('namespace')}/{meta['name']}/{meta.get('uid', '')}/" \
              f"{meta.get('generation', 0)}"
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_path(namespace: str, secret: str) -> str:
    """Where the exporter container finds the token (the ``--secrets-dir`` layout)."""
    return f"{SECRETS_DIR}/{namespace}/{secret}/{TOKEN_KEY}"


def network_policy(name: str, namespace: str, *, exporter: dict[str, str],
                   scraper: dict[str, str], port: str, labels: dict[str, str],
                   owner: Manifest, settings: OperatorSettings) -> Manifest:
    """Ingress to the exporter pods (``exporter`` selector) on ``port``: the scraper pods
    (``scraper`` selector, same namespace) and Prometheus only."""
    prometheus: Manifest = {
        "namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": settings.prometheus_namespace}},
    }
    if settings.prometheus_selector:
        prometheus["podSelector"] = {"matchLabels": dict(settings.prometheus_selector)}
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": labels,
                     "ownerReferences": [owner]},
        "spec": {
            "podSelector": {"matchLabels": exporter},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": scraper}}],
                 "ports": [{"protocol": "TCP", "port": port}]},
                {"from": [prometheus], "ports": [{"protocol": "TCP", "port": port}]},
            ],
        },
    }


def scraper_selector(scraper_config_name: str) -> dict[str, str]:
    """The pod selector of the scraper Deployment a ScraperConfig named so renders."""
    instance = names.child_name(scraper_config_name, "deployment")
    return names.selector(instance, "scraper")
