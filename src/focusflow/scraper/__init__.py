"""The scraper: pulls exporter snapshots into a sink with the foundation's loading semantics.

Layer: ``scraper``. ``config`` holds the public ``ScraperConfig``/``DatabaseConfig`` models (the
operator validates CRs with them) and ``database_url``; ``fetch`` reads ``/rows`` (or parses
``/metrics``); ``service`` is the retrying loop.
"""

from focusflow.scraper.config import (
    DatabaseConfig,
    DatabaseType,
    ScraperConfig,
    ScraperFile,
    SecretKeyRef,
    database_url,
    load_scraper_file,
)
from focusflow.scraper.service import Scraper

__all__ = [
    "DatabaseConfig",
    "DatabaseType",
    "Scraper",
    "ScraperConfig",
    "ScraperFile",
    "SecretKeyRef",
    "database_url",
    "load_scraper_file",
]
