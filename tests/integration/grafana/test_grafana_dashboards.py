"""The dashboards in deploy/grafana load in Grafana and every panel shows data.

1. Schema: each dashboard, as a TypeScript object literal, type-checks against ``Dashboard``
   from ``@grafana/schema`` 13.2.3 (the types Grafana generates from its dashboard schema for
   that release; pinned in scripts/install-system-deps.sh) with ``tsc --strict``, and each
   panel's ``options`` against its plugin's ``Options`` (stat, bar gauge, table, time series):
   unknown fields, wrong types and unknown enum values fail.
2. PromQL: every panel query and variable selector parses with ``promtool check rules``.
3. Data: a real Prometheus scrapes real focusflow servers on loopback: three exporters serving
   the FOCUS 1.2 samples (AWS, Azure, GCP) with labels in FOCUS header casing as Krateo
   registers them (``labelNames: verbatim``, explicit so the test means the same after the
   default changes), an exporter in ``generic`` mode serving ``focusflow allocate`` output as
   ``focusflow_allocation_cost``, and a scraper loading one exporter. Every panel query and
   every variable then returns at least one series.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from fixtures.exporter_pipeline import sample, scraper_for, serve
from fixtures.grafana import (
    SCHEMA_TOOLS,
    Query,
    concrete,
    dashboards,
    panel_queries,
    variable_queries,
)
from fixtures.prometheus import PrometheusServer
from fixtures.report_tables import SAMPLES, load_allocation_table
from focusflow.allocation.rows import SCHEMA
from focusflow.cli import app
from focusflow.exporter import service as exporter_service
from focusflow.runtime import HttpServer

pytestmark = pytest.mark.integration
# Where the servers publish what the dashboards read. The exporter's self-metrics move off the
# data /metrics to their own path (``SELF_METRICS_PATH``, /metrics/self) with the production
# HTTP server; until that change is in, they share /metrics.
DATA_METRICS = "/metrics"
SELF_METRICS: str = getattr(exporter_service, "SELF_METRICS_PATH", DATA_METRICS)
SCRAPER_METRICS = "/metrics"
LABELS = {"labelNames": "verbatim"}  # FOCUS header casing: ServiceName, BillingCurrency, ...
ALLOCATION_KEYS = ["BillingCurrency", "x_Cluster", "x_Node", "x_Namespace", "x_ControllerKind",
                   "x_Controller", "x_PriceSource"]


# Panel plugins' option types (the same package); a panel of another type must not set options.
PANEL_OPTIONS = {"stat": "StatPanelCfg", "bargauge": "BarGaugePanelCfg",
                 "table": "TablePanelCfg", "timeseries": "TimeSeriesPanelCfg"}
# JSON spells a string enum member as its value: the option types with enums as string literals,
# every field optional (Grafana fills in the defaults), deeply.
AS_JSON = """type AsJson<T> = T extends string ? `${T}` : T extends number | boolean ? T :
  T extends Array<infer U> ? Array<AsJson<U>> :
  T extends object ? { [K in keyof T]?: AsJson<T[K]> } : T;
"""


def _typescript(board: dict[str, Any]) -> str:
    imports = ['import type { Dashboard } from "@grafana/schema";']
    checks = []
    for kind, module in PANEL_OPTIONS.items():
        imports.append(f'import type {{ Options as {module} }} from "@grafana/schema/dist/esm/'
                       f'raw/composable/{kind}/panelcfg/x/{module}_types.gen";')
    for panel in board["panels"]:
        if "options" in panel:
            module = PANEL_OPTIONS.get(panel["type"], "never")
            checks.append(f"export const options{panel['id']}: AsJson<{module}> = "
                          f"{json.dumps(panel['options'], indent=2)};")
    return "\n".join([*imports, AS_JSON,
                      f"export const dashboard: Dashboard = {json.dumps(board, indent=2)};",
                      *checks, ""])


def _tsc(work: Path, boards: dict[str, dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    if not (SCHEMA_TOOLS / "typescript" / "bin" / "tsc").exists():
        pytest.fail("@grafana/schema and typescript are not installed: run `make system-deps`")
    (work / "node_modules").symlink_to(SCHEMA_TOOLS)
    for name, board in boards.items():
        (work / f"{Path(name).stem}.ts").write_text(_typescript(board))
    (work / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "strict": True, "noEmit": True, "module": "nodenext", "moduleResolution": "nodenext",
        "target": "es2022", "skipLibCheck": True, "types": []}, "include": ["*.ts"]}))
    return subprocess.run(["node", str(SCHEMA_TOOLS / "typescript" / "bin" / "tsc"), "-p",
                           str(work / "tsconfig.json")], capture_output=True, text=True,
                          check=False, timeout=120)


def test_dashboards_type_check_against_the_grafana_dashboard_schema(tmp_path: Path) -> None:
    boards = dashboards()
    assert {"focusflow-exporter.json", "focusflow-cost.json",
            "focusflow-allocation.json"} <= set(boards)
    result = _tsc(tmp_path, boards)
    assert result.returncode == 0, result.stdout + result.stderr
    for name, board in boards.items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        assert board["uid"] and all(p.get("targets") for p in board["panels"]), name


def test_the_schema_check_rejects_a_wrong_dashboard(tmp_path: Path) -> None:
    board = dashboards()["focusflow-cost.json"]
    board["panels"][0]["gridPosition"] = board["panels"][0].pop("gridPos")
    board["schemaVersion"] = "39"
    bars = next(p for p in board["panels"] if p["type"] == "bargauge")
    bars["options"]["displayMode"] = "bars"  # not a BarGaugeDisplayMode
    result = _tsc(tmp_path, {"broken.json": board})
    assert result.returncode != 0
    assert "'\"gridPosition\"' does not exist in type 'Panel" in result.stdout
    assert "Type 'string' is not assignable to type 'number'" in result.stdout
    assert "Type '\"bars\"' is not assignable to type" in result.stdout


def _promtool_rules(promtool: str, work: Path,
                    exprs: list[str]) -> subprocess.CompletedProcess[str]:
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(exprs)]}]}
    path = work / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    return subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          text=True, check=False, timeout=60)


def test_every_query_parses_with_promtool(promtool: str, tmp_path: Path) -> None:
    exprs = [concrete(q.expr) for q in panel_queries()]
    exprs += [concrete(q.expr) for q, _ in variable_queries()]
    assert len(exprs) > 20
    result = _promtool_rules(promtool, tmp_path, exprs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout
    broken = _promtool_rules(promtool, tmp_path, ["sum by (ServiceName (billed_cost)"])
    assert broken.returncode != 0


def _scrape_config(targets: dict[str, tuple[int, str]]) -> str:
    jobs = [{"job_name": name, "scrape_interval": "1s", "scrape_timeout": "1s",
             "metrics_path": path,
             "static_configs": [{"targets": [f"127.0.0.1:{port}"],
                                 "labels": {"namespace": "focusflow", "pod": name}}]}
            for name, (port, path) in targets.items()]
    return yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": jobs})


def _query(prom: PrometheusServer, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prom.url}/api/v1/query", params={"query": expr}, timeout=30)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


@pytest.fixture
def scraped(prometheus_factory: Callable[..., PrometheusServer],
            tmp_path: Path) -> Iterator[PrometheusServer]:
    database = f"duckdb:///{tmp_path / 'alloc.duckdb'}"
    load_allocation_table(database)
    allocation_csv = tmp_path / "allocation.csv"
    exported = CliRunner().invoke(app, ["export", str(allocation_csv), "--db", database,
                                        "--table", "k8s_allocation"])
    assert exported.exit_code == 0, exported.output
    with ExitStack() as stack:
        targets: dict[str, tuple[int, str]] = {}
        for name in SAMPLES:
            served = stack.enter_context(serve({"source": str(sample(name)), **LABELS}))
            assert served.exporter.poll_once()
            targets[f"cost-{name.split('_')[-1].removesuffix('.csv')}"] = (
                served.server.port, DATA_METRICS)
            if SELF_METRICS != DATA_METRICS:
                targets[f"self-{name}"] = (served.server.port, SELF_METRICS)
        allocation = stack.enter_context(serve({
            "source": str(allocation_csv), "metricType": "generic",
            "generic": {"metricName": "focusflow_allocation_cost",
                        "valueColumnIndex": SCHEMA.names.index("EffectiveCost")},
            "aggregateBy": ALLOCATION_KEYS, **LABELS}))
        assert allocation.exporter.poll_once()
        targets["allocation"] = (allocation.server.port, DATA_METRICS)
        first = next(iter(targets.values()))[0]
        scraper = scraper_for(f"http://127.0.0.1:{first}", f"duckdb:///{tmp_path / 's.duckdb'}")
        assert scraper.scrape_once() is not None
        scraper_server = HttpServer("127.0.0.1:0", scraper.routes()).start()
        stack.callback(scraper_server.stop)
        targets["scraper"] = (scraper_server.port, SCRAPER_METRICS)
        prom = prometheus_factory(_scrape_config(targets))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # every target up, with a few samples each
            samples = _query(prom, "count_over_time(up[1m]) >= 4 and up == 1")
            if len(samples) == len(targets):
                break
            time.sleep(1)
        else:
            pytest.fail(f"targets not up: {_query(prom, 'up')}")
        yield prom


def test_every_panel_and_variable_returns_data(scraped: PrometheusServer) -> None:
    empty = []
    for query in panel_queries():
        result = _query(scraped, concrete(query.expr))
        shown = {k for r in result for k, v in r["metric"].items() if v}
        # data, and every label the panel groups or names its legend by is really there
        # (a `sum by (service_name)` over FOCUS-cased labels returns one unlabelled series)
        if not result or not query.labels <= shown:
            empty.append(query)
    for query, label in variable_queries():
        response = httpx.get(f"{scraped.url}/api/v1/label/{label}/values",
                             params={"match[]": concrete(query.expr)}, timeout=30)
        if not response.json()["data"]:
            empty.append(Query(query.dashboard, query.where, f"label_values({query.expr})"))
    assert empty == []
    # and the numbers are the data's: the allocation's unpriced node is the fixture's
    unpriced = _query(
        scraped, 'sum by (x_Node) (focusflow_allocation_cost{x_PriceSource="default"})')
    assert [r["metric"]["x_Node"] for r in unpriced] == ["node-2"]
