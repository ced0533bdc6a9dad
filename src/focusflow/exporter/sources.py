"""Pick the source an exporter config names: a Krateo ``api`` request or a ``source`` location.

Layer: ``exporter``. Relative ``source`` paths resolve against ``base_dir`` (the config file's
folder), so a pipeline file can name the bundled samples.
"""

from __future__ import annotations

from pathlib import Path

from focusflow.exporter.config import ExporterConfig
from focusflow.sources import EndpointResolver, HttpSource, LocationSource, Source, substitute
from focusflow.sources.azure.krateo import azure_api_source


def build_source(
    config: ExporterConfig, resolver: EndpointResolver, base_dir: Path | None = None
) -> Source:
    if config.source is not None:
        uri = substitute(config.source, config.additional_variables)
        if "://" not in uri and base_dir is not None and not Path(uri).is_absolute():
            uri = str((base_dir / uri).resolve())
        return LocationSource(uri)
    assert config.api is not None  # noqa: S101 - the config model requires api or source
    # Azure Cost Management Query / Monitor paths: paging, throttling, tokens, sliding window.
    azure = azure_api_source(config.api, resolver, config.additional_variables)
    if azure is not None:
        return azure
    return HttpSource(config.api, resolver, config.additional_variables)
