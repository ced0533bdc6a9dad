"""Runtime plumbing shared by the long-running commands (exporter, scraper, ``run``).

Layer: beside ``exporter``/``scraper`` (above ``sources``/``sinks``). ``backoff`` computes
bounded exponential delays with jitter (no hot loops, R11); ``http`` is the HTTP server
(aiohttp, with timeouts, bounded workers and streamed bodies); ``tokens`` says where the
``/rows`` bearer token comes from; ``kube`` reads Secrets and the default endpoint from the
Kubernetes API when running in a pod.
"""

from focusflow.runtime.backoff import Backoff
from focusflow.runtime.http import HttpServer, Limits, Request, Response, Route, parse_listen
from focusflow.runtime.kube import (
    KubernetesSecretStore,
    endpoint_resolver,
    in_cluster_endpoint,
    secret_store_for,
)

__all__ = [
    "Backoff",
    "HttpServer",
    "KubernetesSecretStore",
    "Limits",
    "Request",
    "Response",
    "Route",
    "endpoint_resolver",
    "in_cluster_endpoint",
    "parse_listen",
    "secret_store_for",
]
