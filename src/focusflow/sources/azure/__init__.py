"""Azure sources: in-process tokens, FOCUS exports in Blob storage, Cost Management, Monitor.

Layer: ``sources`` (imports ``focus``; knows nothing of Kubernetes). Importing this package
registers the ``az://`` location scheme and the export expander with the ``focus`` layer;
the Azure SDK itself is imported lazily, only when a blob is read.
"""

from focusflow.focus import register_scheme
from focusflow.focus.parts import register_expander
from focusflow.sources.azure.arm import ArmClient, RetryRules
from focusflow.sources.azure.blob import BlobReader, BlobRef, BlobSettings, open_blob
from focusflow.sources.azure.credentials import (
    MANAGEMENT,
    STORAGE,
    AzureSettings,
    ClientCredentials,
    StaticToken,
    TokenSource,
    settings_from_secret,
    token_source,
)
from focusflow.sources.azure.exports import Manifest, expand_blob_location, plan_exports
from focusflow.sources.azure.query import (
    CostQuery,
    QueryStream,
    expand_query_location,
    parse_cost_query,
    query_pages,
)

register_scheme("az", open_blob)
register_expander(expand_blob_location)
register_expander(expand_query_location)

__all__ = [
    "MANAGEMENT",
    "STORAGE",
    "ArmClient",
    "AzureSettings",
    "BlobReader",
    "BlobRef",
    "BlobSettings",
    "ClientCredentials",
    "CostQuery",
    "Manifest",
    "QueryStream",
    "RetryRules",
    "StaticToken",
    "TokenSource",
    "expand_blob_location",
    "expand_query_location",
    "open_blob",
    "parse_cost_query",
    "plan_exports",
    "query_pages",
    "settings_from_secret",
    "token_source",
]
