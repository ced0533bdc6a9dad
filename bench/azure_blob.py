"""Azure Blob export benchmark: a multi-part FOCUS export read from Azurite vs from local disk.

Generates a FOCUS export at run time (``--rows`` rows cut into ``--parts`` gzip CSV parts plus
a ``manifest.json``), uploads it to an Azurite started here on loopback (in memory), then times
in the same run, each into a fresh DuckDB file and with the same multi-part reader and sink:

- the reference: the same parts loaded from local disk (one multi-part load);
- ``focusflow ingest az://bench/focus`` (list, read and validate the manifest, stream the parts
  from Azurite, one load);

and prints the best-of-``--repeat`` times and their ratio (target <= 1.5).

Usage: ``python bench/azure_blob.py [--rows 60000] [--parts 4]`` (needs Azurite installed by
``scripts/install-system-deps.sh``).
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import orjson
from azure.storage.blob import ContainerClient
from rich.console import Console
from rich.table import Table

from _common import REPO, WORK, make_focus_csv
from focusflow.focus.parts import Part, PartsLoad
from focusflow.ingest import IngestOptions, ingest_location, ingest_planned
from focusflow.sinks import open_sink

AZURITE = REPO / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def make_parts(rows: int, parts: int, folder: Path) -> list[Path]:
    """Cut a generated FOCUS CSV into ``parts`` gzip CSV files with the header each."""
    csv = make_focus_csv(rows, WORK / f"focus_{rows}.csv")
    lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    size = -(-len(body) // parts)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for index in range(parts):
        path = folder / f"part_0_{index + 1:04d}.csv.gz"
        path.write_bytes(gzip.compress(
            (header + "".join(body[index * size:(index + 1) * size])).encode(), 6, mtime=0))
        out.append(path)
    return out


def start_azurite() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port),
         "--inMemoryPersistence", "--skipApiVersionCheck", "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}/{ACCOUNT}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{endpoint}?comp=list", timeout=2)
        except httpx.HTTPError:
            time.sleep(0.2)
        else:
            return process, endpoint
    process.kill()
    raise SystemExit("Azurite did not start")


def upload(container: ContainerClient, parts: list[Path]) -> None:
    folder = f"focus/bench-export/20260501-20260531/202605210400/{uuid.uuid4()}"
    blobs = []
    for path in parts:
        data = path.read_bytes()
        container.upload_blob(f"{folder}/{path.name}", data)
        blobs.append({"blobName": f"{folder}/{path.name}", "byteCount": len(data)})
    manifest = {"manifestVersion": "2024-04-01", "blobCount": len(blobs),
                "byteCount": sum(b["byteCount"] for b in blobs),
                "exportConfig": {"exportName": "bench-export", "type": "FocusCost"},
                "runInfo": {"runId": str(uuid.uuid4()), "submittedTime": "2026-05-21T04:00:00Z",
                            "startDate": "2026-05-01T00:00:00"},
                "blobs": blobs}
    container.upload_blob(f"{folder}/manifest.json", orjson.dumps(manifest))


def timed_local(parts: list[Path], db: Path) -> float:
    load = PartsLoad("local parts", "bench-local",
                     tuple(Part(str(p), p.stat().st_size) for p in parts))
    sink = open_sink(f"duckdb:///{db}")
    try:
        started = time.perf_counter()
        outcome = ingest_planned(load, sink, IngestOptions())
        elapsed = time.perf_counter() - started
    finally:
        sink.close()
    assert outcome.result.rows_written > 0
    return elapsed


def timed_azurite(db: Path) -> float:
    sink = open_sink(f"duckdb:///{db}")
    try:
        started = time.perf_counter()
        outcomes = ingest_location("az://bench/focus", sink, IngestOptions())
        elapsed = time.perf_counter() - started
    finally:
        sink.close()
    assert outcomes[0].result.rows_written > 0
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not AZURITE.exists():
        raise SystemExit("Azurite is not installed: run scripts/install-system-deps.sh")
    parts = make_parts(args.rows, args.parts, WORK / f"azure_parts_{args.rows}_{args.parts}")
    process, endpoint = start_azurite()
    connection = (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                  f"BlobEndpoint={endpoint};")
    os.environ["AZURE_STORAGE_CONNECTION_STRING"] = connection
    db_dir = WORK / "azure_db"
    local, remote = [], []
    try:
        container = ContainerClient.from_connection_string(connection, "bench")
        container.create_container()
        upload(container, parts)
        timed_azurite(WORK / "warmup.duckdb")  # imports and connection pools, not measured
        for attempt in range(args.repeat):
            shutil.rmtree(db_dir, ignore_errors=True)
            db_dir.mkdir(parents=True)
            local.append(timed_local(parts, db_dir / f"local{attempt}.duckdb"))
            remote.append(timed_azurite(db_dir / f"azurite{attempt}.duckdb"))
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(db_dir, ignore_errors=True)
        (WORK / "warmup.duckdb").unlink(missing_ok=True)
    table = Table(title=f"Multi-part export: {args.rows:,} rows in {args.parts} gzip CSV parts "
                        f"({sum(p.stat().st_size for p in parts) / 1e6:.1f} MB)")
    for column in ("reference: parts from local disk", "focusflow ingest az:// (Azurite)",
                   "ratio (target <= 1.5)"):
        table.add_column(column, justify="right")
    ratio = min(remote) / min(local)
    table.add_row(f"{min(local):.2f} s", f"{min(remote):.2f} s", f"{ratio:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
