"""Sources: where rows come from, reached the way Krateo's exporter reaches them.

Layer: ``sources`` (above ``focus``, beside ``sinks``; knows nothing of Kubernetes).

The protocol every source implements is small::

    class Source(Protocol):
        name: str                      # credential-free, for logs and metrics
        def fetch(self) -> Fetched: ...

``Fetched`` carries either the raw response (``body`` bytes plus its ``content_type``; the
exporter decodes CSV, JSON, gzip and octet-streams by header or by magic bytes) or ready Arrow
rows (``table``) for sources that already produce rows (e.g. an Azure Cost Management query).
``fetch`` raises ``TransientSourceError`` when a retry may help (timeouts, 5xx, throttling) and
``SourceError``/``ConfigError`` otherwise; it never leaks a token or password in a message.

The reusable Krateo machinery lives here too: the ``api`` block (``path/verb/headers/payload/
endpointRef``), endpoint Secrets in Krateo's key format (``Endpoint``), ``<var>`` substitution
(``substitute``), Go durations (``parse_duration``) and secret stores (``SecretStore``,
``DirectorySecretStore``; the in-cluster Kubernetes store lives in ``focusflow.runtime``).
"""

from focusflow.sources.base import Fetched, Source
from focusflow.sources.durations import format_duration, parse_duration
from focusflow.sources.endpoint import ApiConfig, Endpoint, ObjectRef
from focusflow.sources.http import (
    EndpointResolver,
    HttpSource,
    LocationSource,
    secret_endpoints,
)
from focusflow.sources.models import KrateoModel
from focusflow.sources.secrets import DirectorySecretStore, SecretStore
from focusflow.sources.variables import substitute

__all__ = [
    "ApiConfig",
    "DirectorySecretStore",
    "Endpoint",
    "EndpointResolver",
    "Fetched",
    "HttpSource",
    "KrateoModel",
    "LocationSource",
    "ObjectRef",
    "SecretStore",
    "Source",
    "format_duration",
    "parse_duration",
    "secret_endpoints",
    "substitute",
]
