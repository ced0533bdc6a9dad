"""What the operator renders runs: the real exporter and scraper started from rendered manifests.

The exporter and scraper Deployments' args and ConfigMaps from ``render_tree`` are run as local
processes, with mounted paths mapped into a temporary directory laid out exactly like the pod's
(``/etc/focusflow/config.yaml``, ``/var/run/secrets/focusflow/<ns>/<name>/<key>``). The source is
an HTTP server on 127.0.0.1 serving a FOCUS CSV; the scraper loads into DuckDB (a DatabaseConfig
with focusflow's ``type: duckdb`` extension).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow.csv as pacsv
import pytest

from fixtures.net import free_port, stop, wait_http
from fixtures.upstream_http import Upstream
from focusflow.operator import OperatorSettings, render_tree

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # two CLI processes: ~15 s

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "data" / "focus_1_2_cost_and_usage_aws.csv"
NS = "finops"


def _docs(db_file: Path) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "finops.krateo.io/v1", "kind": "DatabaseConfig",
         "metadata": {"name": "local-duckdb", "namespace": NS},
         "spec": {"type": "duckdb", "uri": str(db_file)}},
        {"apiVersion": "finops.krateo.io/v1", "kind": "ExporterScraperConfig",
         "metadata": {"name": "aws-focus", "namespace": NS, "uid": "1234"},
         "spec": {
             "exporterConfig": {"api": {"path": "/focus.csv", "verb": "GET",
                                        "endpointRef": {"name": "source", "namespace": NS}},
                                "metricType": "cost", "pollingInterval": "1m"},
             "scraperConfig": {"tableName": "focus", "pollingInterval": "1m",
                               "scraperDatabaseConfigRef": {"name": "local-duckdb",
                                                            "namespace": NS}}}},
    ]


def _container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"
                     and o["metadata"]["name"] == name]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _config(objects: list[dict[str, Any]], name: str) -> str:
    (config_map,) = [o for o in objects if o["kind"] == "ConfigMap"
                     and o["metadata"]["name"] == name]
    return str(config_map["data"]["config.yaml"])


def _local_args(container: dict[str, Any], config: Path, secrets: Path, port: int) -> list[str]:
    """The container's command line with the pod's paths mapped to the local layout."""
    mapping = {"/etc/focusflow/config.yaml": str(config),
               "/var/run/secrets/focusflow": str(secrets)}
    args = [mapping.get(a, a) for a in container["args"]]
    args = [a.replace("/var/run/secrets/focusflow/", f"{secrets}/") for a in args]
    args[args.index("--listen") + 1] = f"127.0.0.1:{port}"
    focusflow = Path(sys.executable).parent / container["command"][0]
    return [str(focusflow), *args]


def _secret(secrets: Path, name: str, key: str, value: str) -> None:
    path = secrets / NS / name / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value)


def test_rendered_exporter_and_scraper_load_the_report(upstream: Upstream,
                                                       tmp_path: Path) -> None:
    upstream.respond(body=SAMPLE.read_bytes(), content_type="text/csv")
    db_file = tmp_path / "focus.duckdb"
    objects = render_tree(_docs(db_file), OperatorSettings())
    secrets = tmp_path / "secrets"
    _secret(secrets, "source", "server-url", upstream.url)
    (endpoint,) = [o for o in objects if o["kind"] == "Secret"]
    for key, value in endpoint["stringData"].items():  # what the kubelet mounts
        _secret(secrets, endpoint["metadata"]["name"], key, value)

    exporter_cfg = tmp_path / "exporter.yaml"
    exporter_cfg.write_text(_config(objects, "aws-focus-configmap"))
    port = free_port()
    exporter = subprocess.Popen(
        _local_args(_container(objects, "aws-focus-deployment"), exporter_cfg, secrets, port),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", exporter)
        # /rows needs the pipeline's token: anyone else gets 401 (issue 15 item 9).
        assert httpx.get(f"http://127.0.0.1:{port}/rows").status_code == 401
        # In a cluster this DNS name reaches the Service; locally the exporter is on loopback.
        assert endpoint["stringData"]["server-url"] == "http://aws-focus-service.finops.svc:2112"
        _secret(secrets, endpoint["metadata"]["name"], "server-url", f"http://127.0.0.1:{port}")

        scraper_cfg = tmp_path / "scraper.yaml"
        scraper_cfg.write_text(_config(objects, "aws-focus-scraper-configmap"))
        args = _local_args(_container(objects, "aws-focus-scraper-deployment"), scraper_cfg,
                           secrets, free_port())
        done = subprocess.run([*args, "--once"], capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        stop(exporter)
    expected = pacsv.read_csv(SAMPLE).num_rows
    with duckdb.connect(str(db_file), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM focus").fetchone()
    assert row is not None and row[0] == expected
