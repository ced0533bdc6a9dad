"""``bench/exporter.py --clients N``: an exporter process under N concurrent mixed clients.

Starts ``focusflow exporter`` on a generated report, measures its idle RSS once the snapshot is
served, then runs N clients for ``--seconds``: they cycle through gzip and plain ``/metrics``,
Arrow and CSV ``/rows`` and ``/healthz``; every fifth client reads slowly (64 KiB, then a
pause), and a few connections sit idle. A probe times ``/healthz`` every 100 ms; the exporter's
RSS is sampled every 50 ms. Prints the peak RSS under load as a multiple of the idle RSS (target
<= 1.5x), the RSS a few seconds after the load, errors (target 0) and p99 latencies (``/healthz``
target < 1 s). A request still running when the time is up is cut, not counted as an error.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from _common import FOCUSFLOW

TOKEN = "bench-rows-token"  # noqa: S105 - a throwaway token for this run only
KINDS = {  # name: (path, headers)
    "metrics gzip": ("/metrics", {"Accept-Encoding": "gzip"}),
    "metrics plain": ("/metrics", {"Accept-Encoding": "identity"}),
    "rows arrow": ("/rows", {"Authorization": f"Bearer {TOKEN}"}),
    "rows csv": ("/rows?format=csv", {"Authorization": f"Bearer {TOKEN}"}),
    "healthz": ("/healthz", {}),
}


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    bytes_read: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, size: int) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            self.bytes_read += size


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _client(base: str, index: int, until: float, results: Results) -> None:
    slow = index % 5 == 4
    names = list(KINDS)
    with httpx.Client(timeout=httpx.Timeout(300, connect=30)) as client:
        turn = index
        while time.monotonic() < until:
            kind = names[turn % len(names)]
            turn += 1
            path, headers = KINDS[kind]
            started, size = time.monotonic(), 0
            try:
                with client.stream("GET", base + path, headers=headers) as response:
                    if response.status_code != 200:
                        results.errors.append(f"{kind}: HTTP {response.status_code}")
                        continue
                    for chunk in response.iter_raw(65536):
                        size += len(chunk)
                        if time.monotonic() >= until:
                            break  # time is up: cut, not an error
                        if slow:
                            time.sleep(0.05)
                    else:
                        results.add(kind, time.monotonic() - started, size)
            except httpx.HTTPError as exc:
                if time.monotonic() < until:
                    results.errors.append(f"{kind}: {type(exc).__name__}")


def _probe(base: str, until: float, results: Results) -> None:
    with httpx.Client(timeout=30) as client:
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                ok = client.get(base + "/healthz").status_code == 200
            except httpx.HTTPError as exc:
                results.errors.append(f"probe: {type(exc).__name__}")
                continue
            if not ok:
                results.errors.append("probe: not 200")
            results.add("probe /healthz", time.monotonic() - started, 0)
            time.sleep(0.1)


def _idle(port: int, until: float) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(max(0.1, until - time.monotonic()))
        with contextlib.suppress(OSError):
            sock.recv(1)  # the server closes it after its idle timeout


def _start(report: Path, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    config = work / "load-exporter.yaml"
    config.write_text(f"exporterConfig: {{source: {report}, pollingInterval: 24h}}\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    process = subprocess.Popen(
        [FOCUSFLOW, "exporter", "--config", str(config), "--listen", f"127.0.0.1:{port}",
         "--log-level", "WARNING"],
        env={**os.environ, "FOCUSFLOW_ROWS_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return process, port
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise SystemExit("the exporter exited before serving")
        time.sleep(0.5)
    process.kill()
    raise SystemExit("the exporter did not become ready in 300 s")


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else max(values,
                                                                                default=0.0)


def run_load(report: Path, work: Path, clients: int, seconds: float) -> None:
    process, port = _start(report, work)
    base = f"http://127.0.0.1:{port}"
    try:
        time.sleep(3)  # let the poll's transient memory settle
        samples = []
        for _ in range(5):
            samples.append(rss_mb(process.pid))
            time.sleep(0.2)
        idle = statistics.median(samples)
        polled = rss_mb(process.pid, "VmHWM")  # the peak so far: the poll (decode, render)
        results = Results()
        until = time.monotonic() + seconds
        threads = [threading.Thread(target=_client, args=(base, i, until, results))
                   for i in range(clients)]
        threads += [threading.Thread(target=_idle, args=(port, until)) for _ in range(5)]
        threads.append(threading.Thread(target=_probe, args=(base, until, results)))
        peak = idle
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            peak = max(peak, rss_mb(process.pid))
            time.sleep(0.05)
        time.sleep(5)
        after = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(30)
    table = Table(title=f"exporter under {clients} concurrent mixed clients for {seconds:.0f} s "
                        f"({report.stat().st_size / 1e6:.0f} MB CSV)")
    for column in ("requests", "completed", "p50 s", "p99 s"):
        table.add_column(column, justify="right" if column != "requests" else "left")
    for kind, values in sorted(results.latencies.items()):
        table.add_row(kind, str(len(values)), f"{statistics.median(values):.3f}",
                      f"{_p99(values):.3f}")
    console = Console()
    console.print(table)
    ratio = peak / idle
    probe = _p99(results.latencies.get("probe /healthz", []))
    ok = ratio <= 1.5 and not results.errors and probe < 1.0
    console.print(
        f"RSS idle {idle:,.0f} MB, peak under load {peak:,.0f} MB, 5 s after {after:,.0f} MB: "
        f"[bold]{ratio:.2f}x[/] idle (target <= 1.5x); {results.bytes_read / 1e9:.1f} GB "
        f"served; errors {len(results.errors)} {sorted(set(results.errors))[:5]}; /healthz "
        f"p99 {probe:.3f} s (target < 1 s) -> {'OK' if ok else 'MISSED'}")
    console.print(f"poll peak RSS (before the load) {polled:,.0f} MB = "
                  f"{polled * 2**20 / report.stat().st_size:.2f}x the CSV; idle "
                  f"{idle * 2**20 / report.stat().st_size:.2f}x the CSV")
    console.print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
