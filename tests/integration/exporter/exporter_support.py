"""Shared wiring for the exporter/scraper integration tests: real HTTP servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import SecretStr

from focusflow.exporter import Exporter, ExporterConfig, build_source
from focusflow.ingest import IngestOptions, ingest
from focusflow.runtime import HttpServer, endpoint_resolver
from focusflow.scraper import Scraper, ScraperConfig
from focusflow.sinks import open_sink

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent.parent / "shared" / "data" / "focus-data-toolkit"


def sample(name: str) -> Path:
    """A FOCUS sample from ../shared/data when present, else the bundled copy."""
    shared = SHARED / name
    return shared if shared.exists() else REPO / "examples" / "data" / name


@dataclass
class Served:
    exporter: Exporter
    server: HttpServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@contextmanager
def serve(config: dict[str, Any], secrets_dir: Path | None = None,
          base_dir: Path | None = None, timeout: float | None = None) -> Iterator[Served]:
    settings = ExporterConfig.parse({"pollingInterval": "1h", **config}, where="test")
    source = build_source(settings, endpoint_resolver(secrets_dir), base_dir)
    if timeout is not None:
        source.timeout_seconds = timeout  # type: ignore[attr-defined]
    exporter = Exporter(settings, source)
    server = HttpServer("127.0.0.1:0", exporter.routes()).start()
    try:
        yield Served(exporter, server)
    finally:
        server.stop()


def scraper_for(url: str, database: str, table: str = "focus",
                source_id: str = "test-source", **extra: Any) -> Scraper:
    config = ScraperConfig.parse({"tableName": table, "pollingInterval": "1h",
                                  "exporterUrl": url, **extra}, where="test")
    return Scraper(config, endpoint_resolver(None), lambda: SecretStr(database), source_id)


def direct_ingest(path: Path, database: str, table: str = "direct") -> pa.Table:
    sink = open_sink(database)
    try:
        ingest(str(path), sink, IngestOptions(table=table, source_id="direct"))
        return sink.read_table(table)
    finally:
        sink.close()


def read(database: str, table: str) -> pa.Table:
    sink = open_sink(database)
    try:
        return sink.read_table(table)
    finally:
        sink.close()


def rows(table: pa.Table) -> pa.Table:
    """The table in a canonical column and row order (compare with ``==``; duplicates kept)."""
    names = sorted(table.column_names)
    ordered = table.select(names)
    return ordered.sort_by([(n, "ascending") for n in names]).combine_chunks()


def write_secret(root: Path, namespace: str, name: str, values: dict[str, str]) -> None:
    folder = root / namespace / name
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in values.items():
        (folder / key).write_text(value)
