"""The report in a real browser: Debian's headless Chromium, driven by chromedriver, offline.

The page is opened from disk with the network cut twice over (a dead proxy, and DevTools'
offline emulation), so anything it tried to fetch would fail and show. Checked: no console
errors, no resource requested at all, every chart drawn with the report's data, and switching
the daily chart's dimension redraws it with that dimension's values. A full-page screenshot
is kept in ``test-artifacts/report.png``; with ``FOCUSFLOW_UPDATE_SCREENSHOT=1`` the top of the
page is also written to ``docs/img/report.png`` (the README's picture).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import Select, WebDriverWait
from typer.testing import CliRunner

from fixtures.exporter_pipeline import sample
from fixtures.paths import REPO
from fixtures.report_tables import SAMPLES, load_allocation_table, load_cost_tables
from focusflow.cli import app
from focusflow.ingest import IngestOptions, ingest
from focusflow.sinks import open_sink

pytestmark = pytest.mark.integration
ARTIFACTS = REPO / "test-artifacts"
MARKUP = ('<img src=x onerror="document.title=1">', "<b>bold</b>")


def _binary(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"{names[0]} is not installed: run `make system-deps` (Debian packages "
                f"'chromium' and 'chromium-driver')")


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[webdriver.Chrome]:
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not download anything
    options = Options()
    options.binary_location = _binary("chromium", "chromium-browser")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
                "--proxy-server=http://127.0.0.1:9", "--window-size=1280,1800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=_binary("chromedriver"), log_output=str(tmp_path / "cd.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def report_file(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    url = f"duckdb:///{tmp_path / 'browser.duckdb'}"
    load_cost_tables(url, tmp_path)
    load_allocation_table(url)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, [
        "report", "--db", url, "--allocation-table", "k8s_allocation", "--out", str(out),
        "--start", "2026-05-15", "--end", "2026-05-29"])
    assert result.exit_code == 0, result.output
    match = re.search(r'id="focusflow-data">(.*?)</script>', out.read_text(), re.S)
    assert match is not None
    return out, json.loads(match[1])


def _traces(driver: webdriver.Chrome, element: str) -> list[dict[str, Any]]:
    traces: list[dict[str, Any]] = driver.execute_script(
        "return (document.getElementById(arguments[0]).data || []).map(function (t) {"
        " return {name: t.name, n: (t.y || []).length, x: (t.x || []).length}; });", element)
    return traces


def test_report_renders_offline_with_data_and_switches_dimension(
        browser: webdriver.Chrome, report_file: tuple[Path, dict[str, Any]]) -> None:
    path, data = report_file
    browser.get(path.as_uri())
    WebDriverWait(browser, 60).until(
        lambda d: d.execute_script("return document.body.getAttribute('data-rendered')"))

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
    ) == []  # nothing fetched: plotly.js, styles and data are all in the file

    usd = next(s for s in data["daily"]["service"] if s["currency"] == "USD")
    traces = _traces(browser, "daily")
    assert [t["name"] for t in traces] == [*usd["series"], "anomaly"]
    assert all(t["n"] == len(usd["days"]) for t in traces[:-1])
    assert traces[-1]["n"] == sum(1 for a in data["anomalies"] if a["currency"] == "USD") > 0
    bars = browser.execute_script("return document.querySelectorAll('#daily .bars path').length")
    assert bars > 50  # drawn, not just configured
    assert len(_traces(browser, "commitments")) == 2
    assert browser.execute_script(  # one bar per commitment: names repeat, labels must not
        "var y = document.getElementById('commitments').data[0].y;"
        "return [new Set(y).size, y.length];") == [20, 20]
    assert _traces(browser, "namespaces")[0]["n"] == sum(
        1 for n in data["kubernetes"]["namespaces"] if n["currency"] == "USD")

    ARTIFACTS.mkdir(exist_ok=True)
    if os.environ.get("FOCUSFLOW_UPDATE_SCREENSHOT") == "1":
        browser.save_screenshot(str(REPO / "docs" / "img" / "report.png"))
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, height)
    assert browser.save_screenshot(str(ARTIFACTS / "report.png"))
    browser.set_window_size(1280, 1800)

    Select(browser.find_element("id", "dimension")).select_by_value("region")
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element("id", "daily").get_attribute("data-dimension") == "region")
    region = next(s for s in data["daily"]["region"] if s["currency"] == "USD")
    assert [t["name"] for t in _traces(browser, "daily")] == [*region["series"], "anomaly"]
    assert set(region["series"]) != set(usd["series"])

    Select(browser.find_element("id", "currency")).select_by_value("EUR")
    eur = next(s for s in data["daily"]["region"] if s["currency"] == "EUR")
    WebDriverWait(browser, 30).until(
        lambda d: [t["name"] for t in _traces(d, "daily")] == [*eur["series"], "anomaly"])
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_report_of_an_empty_table_renders_without_errors(
        browser: webdriver.Chrome, tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    load_cost_tables(f"duckdb:///{db}", tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM focus")
    out = tmp_path / "empty.html"
    result = CliRunner().invoke(app, ["report", "--db", f"duckdb:///{db}", "--out", str(out)])
    assert result.exit_code == 0, result.output
    browser.get(out.as_uri())
    WebDriverWait(browser, 60).until(
        lambda d: d.execute_script("return document.body.getAttribute('data-rendered')"))
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    assert "No charges in either period." in browser.find_element("id", "totals").text
    assert "no charges in these periods" in browser.find_element("id", "daily").text


def test_markup_in_the_data_stays_text(browser: webdriver.Chrome, tmp_path: Path) -> None:
    source = sample(SAMPLES[0])
    hostile = tmp_path / "hostile.csv"
    with source.open(newline="", encoding="utf-8") as src, \
            hostile.open("w", newline="", encoding="utf-8") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        for i, row in enumerate(reader):
            if i % 2:
                row["ServiceName"] = MARKUP[i % 4 // 2]
            writer.writerow(row)
    db = f"duckdb:///{tmp_path / 'hostile.duckdb'}"
    sink = open_sink(db)
    try:
        ingest(str(hostile), sink, IngestOptions(table="focus"))
    finally:
        sink.close()
    out = tmp_path / "hostile.html"
    assert CliRunner().invoke(app, ["report", "--db", db, "--out", str(out)]).exit_code == 0
    browser.get(out.as_uri())
    WebDriverWait(browser, 60).until(
        lambda d: d.execute_script("return document.body.getAttribute('data-rendered')"))
    assert browser.title.startswith("Cost report")  # no handler ran
    assert browser.execute_script(
        "return performance.getEntriesByType('resource').length") == 0
    assert browser.execute_script("return document.querySelectorAll('img, b').length") == 0
    legend = browser.find_element("css selector", "#daily .legend").text
    movers = browser.find_element("id", "movers").text
    for text in MARKUP:
        assert text in legend and text in movers
