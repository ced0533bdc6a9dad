"""``focusflow run``: exporters and their scrapers in one process, from one pipeline file.

Layer: ``scraper`` (it composes the exporter and the scraper of the same layer). The pipeline
file is focusflow's own schema, built from Krateo's pieces::

    apiVersion: focusflow.dev/v1alpha1
    kind: Pipeline
    listen: 127.0.0.1:2112            # one server: /<name>/metrics, /<name>/rows, /healthz
                                      # (/rows needs the token this process makes for its
                                      # scrapers: nobody else reads it)
    secretsDir: ./secrets             # optional: DIR/<namespace>/<name>/<key>
    database: duckdb:///demo/focusflow.duckdb   # a URL, or a DatabaseConfig spec mapping
    sources:
      - name: aws                     # [a-z0-9-]+; also the load identity pipeline:<name>
        exporterConfig: {...}         # Krateo exporterConfig (api + endpointRef, or source:)
        scraperConfig: {tableName: focus, pollingInterval: 1h}

Each scraper reads its exporter over HTTP exactly as in Kubernetes (``/rows``, ETag). Relative
paths (``source``, ``secretsDir``, DuckDB files) resolve against the working directory, except
``source`` which resolves against the pipeline file's folder.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator

from focusflow.errors import ConfigError, FocusflowError
from focusflow.exporter import Exporter, ExporterConfig, build_source
from focusflow.exporter.config import read_yaml
from focusflow.runtime import HttpServer, endpoint_resolver, secret_store_for
from focusflow.runtime.tokens import fixed_token, new_token
from focusflow.scraper.config import DatabaseConfig, ScraperConfig, database_url
from focusflow.scraper.service import Scraper
from focusflow.sources import KrateoModel

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class PipelineSource(KrateoModel):
    name: str
    exporter_config: ExporterConfig
    scraper_config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("expected lower-case letters, digits and '-' (a DNS label)")
        return value


class PipelineConfig(KrateoModel):
    listen: str = "127.0.0.1:2112"
    secrets_dir: Path | None = None
    database: str | DatabaseConfig | None = None
    sources: list[PipelineSource] = Field(min_length=1)


def load_pipeline(path: Path) -> PipelineConfig:
    docs = read_yaml(path)
    if len(docs) != 1:
        raise ConfigError(f"{path}: expected one YAML document (a Pipeline)")
    return PipelineConfig.parse(docs[0], where=str(path))


class Pipeline:
    """The exporters, their scrapers and the one HTTP server, wired from a ``PipelineConfig``."""

    def __init__(self, config: PipelineConfig, base_dir: Path,
                 database_default: str | None = None, listen: str | None = None) -> None:
        self.config = config
        resolver = endpoint_resolver(config.secrets_dir)
        store = secret_store_for(config.secrets_dir)
        # One process: the exporters require, and the scrapers send, a token made here.
        rows_token = fixed_token(new_token())
        # The in-process scraper reads /rows: /metrics is rendered only if someone asks for it.
        self.exporters = {s.name: Exporter(s.exporter_config,
                                           build_source(s.exporter_config, resolver, base_dir),
                                           eager_metrics=False, rows_token=rows_token)
                          for s in config.sources}
        routes: dict[str, Any] = {"/healthz": lambda _: _ok()}
        for name, exporter in self.exporters.items():
            routes.update(exporter.routes(f"/{name}"))
        self.server = HttpServer(listen or config.listen, routes)
        database = config.database
        db_config = database if isinstance(database, DatabaseConfig) else None
        db_default = database if isinstance(database, str) else database_default

        def database_url_now() -> SecretStr:
            return database_url(db_config, store, db_default)

        database_url_now()  # a config error fails here, at start
        lock = threading.Lock()
        host = "127.0.0.1" if self.server.host in ("0.0.0.0", "::") else self.server.host  # noqa: S104
        self.scrapers = {}
        for source in config.sources:
            spec = {"tableName": "focus",
                    "pollingInterval": source.exporter_config.polling_interval,
                    **source.scraper_config,
                    "exporterUrl": f"http://{host}:{self.server.port}/{source.name}",
                    "sourceId": source.scraper_config.get("sourceId", f"pipeline:{source.name}")}
            scraper_config = ScraperConfig.parse(spec, where=f"sources[{source.name}]."
                                                 "scraperConfig")
            self.scrapers[source.name] = Scraper(scraper_config, resolver, database_url_now,
                                                 scraper_config.source_id or source.name,
                                                 sink_lock=lock, rows_token=rows_token)

    def run_once(self) -> bool:
        """Poll every exporter, serve, scrape each once over HTTP; True if all succeeded."""
        self.server.start()
        ok = True
        try:
            for name, exporter in self.exporters.items():
                if not exporter.poll_once():
                    ok = False
                    continue
                try:
                    self.scrapers[name].scrape_once()
                except FocusflowError as exc:
                    logger.error("scrape of %s failed: %s", name, exc)  # noqa: TRY400
                    ok = False
        finally:
            self.server.stop()
        return ok

    def run(self, stop: threading.Event) -> None:
        """Exporters and scrapers in threads until ``stop``."""
        self.server.start()
        threads = [threading.Thread(target=e.run, args=(stop,), name=f"exporter-{n}",
                                    daemon=True) for n, e in self.exporters.items()]
        threads += [threading.Thread(target=s.run, args=(stop,), name=f"scraper-{n}",
                                     daemon=True) for n, s in self.scrapers.items()]
        for thread in threads:
            thread.start()
        try:
            stop.wait()
        finally:
            self.server.stop()
            for thread in threads:
                thread.join(timeout=30)


def _ok() -> Any:
    from focusflow.runtime import Response  # noqa: PLC0415

    return Response(200, b"ok\n")
