"""Azure sources: in-process tokens, FOCUS exports in Blob storage, Cost Management, Monitor.

Layer: ``sources`` (imports ``focus``; knows nothing of Kubernetes). Importing this package
registers the ``az://`` location scheme and the export expander with the ``focus`` layer;
the Azure SDK itself is imported lazily, only when a blob is read.
"""

from focusflow.sources.azure.arm import ArmClient, RetryRules
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

__all__ = [
    "MANAGEMENT",
    "STORAGE",
    "ArmClient",
    "AzureSettings",
    "ClientCredentials",
    "RetryRules",
    "StaticToken",
    "TokenSource",
    "settings_from_secret",
    "token_source",
]
