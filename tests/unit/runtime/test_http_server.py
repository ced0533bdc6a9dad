"""The HTTP server's limits, proved on loopback with raw sockets and real clients (issue 15).

Each test stays bounded in connections and seconds. What the standard library's server did
instead is noted per test: each of these failed against it.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from focusflow.runtime import HttpServer, Response
from focusflow.runtime.http import Limits, Request

MB = 1 << 20
LOAD_CLIENTS = Path(__file__).resolve().parents[2] / "fixtures" / "http_load.py"


class Produced:
    """A large streamed body that counts the parts made and whether it was closed."""

    def __init__(self, parts: int, size: int = MB) -> None:
        self.parts, self.size = parts, size
        self.made = 0
        self.closed = threading.Event()

    def route(self, _: Request) -> Response:
        def body() -> Iterator[bytes]:
            for _ in range(self.parts):
                self.made += 1
                yield b"x" * self.size

        return Response(200, body(), length=self.parts * self.size, heavy=True,
                        on_close=self.closed.set)


def _raw(port: int, data: bytes, *, wait: float = 1.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        received = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        return received


@pytest.fixture
def served() -> Iterator[HttpServer]:
    server = HttpServer("127.0.0.1:0", {
        "/a": lambda _: Response(200, b"A"),
        "/b": lambda _: Response(200, b"B"),
    }, Limits(idle_timeout=1.0)).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_get_body_is_never_read_as_a_second_request(served: HttpServer) -> None:
    """The stdlib server ignored Content-Length on GET and answered the body as a request."""
    smuggled = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = _raw(served.port, b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(smuggled), smuggled))
    assert reply.count(b"HTTP/1.1 ") == 1 and reply.endswith(b"A")


def test_request_bodies_methods_and_headers_are_bounded(served: HttpServer) -> None:
    big = _raw(served.port, b"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
    assert big.startswith(b"HTTP/1.1 413")
    chunked = _raw(served.port, b"GET /a HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.1 413")
    assert httpx.post(f"http://127.0.0.1:{served.port}/a", content=b"x").status_code == 405
    header = _raw(served.port, b"GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 20000
                  + b"\r\n\r\n")
    assert header.split(b" ", 2)[1] == b"400"  # refused as it arrives, not buffered


def test_idle_and_trickling_connections_are_closed(served: HttpServer) -> None:
    """The stdlib server kept each such connection (and its thread) forever."""
    idle = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    trickle = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    started = time.monotonic()
    closed_at: dict[str, float] = {}

    def trickling() -> None:
        try:
            for byte in b"GET /a HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 40:
                trickle.sendall(bytes([byte]))
                time.sleep(0.1)
        except OSError:
            closed_at["trickle"] = time.monotonic() - started

    writer = threading.Thread(target=trickling)
    writer.start()
    assert idle.recv(1) == b""  # closed by the server, nothing sent
    closed_at["idle"] = time.monotonic() - started
    writer.join(timeout=10)
    idle.close()
    trickle.close()
    assert closed_at["idle"] < 3.0
    assert "trickle" in closed_at and closed_at["trickle"] < 4.5


def test_backlog_queues_a_burst_of_connections() -> None:
    """150 connections arrive before the server accepts any: all queue (the stdlib's 5 did not)."""
    server = HttpServer("127.0.0.1:0", {"/a": lambda _: Response(200, b"A")})
    sockets: list[socket.socket] = []
    try:
        for _ in range(150):
            sockets.append(socket.create_connection(("127.0.0.1", server.port), timeout=0.5))
        server.start()
        for sock in sockets:
            sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        for sock in sockets:
            sock.settimeout(10)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


def test_a_client_that_stops_reading_pins_one_part_then_is_dropped() -> None:
    body = Produced(200)
    server = HttpServer("127.0.0.1:0", {"/big": body.route},
                        Limits(send_timeout=1.5)).start()
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        assert body.closed.wait(10)  # dropped after the send timeout; on_close ran
        # Only what the socket buffers hold was made: not the 200 MB body.
        assert body.made < 20
        sock.close()
    finally:
        server.stop()


def test_heavy_bodies_queue_then_get_503_with_retry_after() -> None:
    gate, sending = threading.Event(), threading.Event()
    routed: list[int] = []

    def slow(_: Request) -> Response:
        routed.append(1)

        def body() -> Iterator[bytes]:
            sending.set()
            gate.wait(10)
            yield b"done"
        return Response(200, body(), heavy=True)

    def until(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.02)

    server = HttpServer("127.0.0.1:0", {"/heavy": slow},
                        Limits(heavy_slots=1, heavy_queue=1, heavy_wait=5)).start()
    url = f"http://127.0.0.1:{server.port}/heavy"
    results: list[int] = []
    try:
        threads = [threading.Thread(target=lambda: results.append(
            httpx.get(url, timeout=20).status_code)) for _ in range(2)]
        threads[0].start()
        until(sending.is_set)  # the first holds the only slot
        threads[1].start()
        until(lambda: len(routed) == 2)
        time.sleep(0.3)  # the second is queued behind it
        third = httpx.get(url, timeout=20)
        assert third.status_code == 503 and third.headers["retry-after"]
        gate.set()
        for thread in threads:
            thread.join(20)
        assert results == [200, 200]  # the queued one was served once the slot freed
    finally:
        gate.set()
        server.stop()


def _probe(base: str, stop: threading.Event, latencies: list[float],
           errors: list[str]) -> None:
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            started = time.monotonic()
            if client.get(f"{base}/healthz").status_code != 200:
                errors.append("healthz")
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)


@pytest.mark.slow
def test_bounded_load_mixed_clients_keep_healthz_fast_and_threads_bounded() -> None:
    """30 fast readers of a 16 MB body, slow readers, idle and trickling clients (in a child
    process, ``fixtures/http_load.py``) while a probe times ``/healthz``.

    The stdlib server: one thread per connection, a queue of 5, probes over 5 s under load.
    """
    body = Produced(16)
    limits = Limits(idle_timeout=2.0, send_timeout=3.0, heavy_slots=4)
    server = HttpServer("127.0.0.1:0", {"/big": body.route,
                                        "/healthz": lambda _: Response(200, b"ok\n")},
                        limits).start()
    base = f"http://127.0.0.1:{server.port}"
    threads_before = threading.active_count()
    errors: list[str] = []
    latencies: list[float] = []
    stop = threading.Event()
    prober = threading.Thread(target=_probe, args=(base, stop, latencies, errors))
    clients = subprocess.Popen([sys.executable, str(LOAD_CLIENTS), str(server.port),
                                str(16 * MB)], stdout=subprocess.PIPE, text=True)
    try:
        prober.start()
        time.sleep(1.5)
        # The clients are another process: every thread here beyond the probe is the server's.
        assert threading.active_count() - threads_before - 1 <= \
            limits.workers + limits.heavy_slots + 1
        output, _ = clients.communicate(timeout=90)
    finally:
        clients.kill()
        clients.wait()
        stop.set()
        prober.join(15)
        server.stop()
    report = json.loads(output)
    assert report == {"errors": [], "stuck": 0}
    assert not errors, errors[:5]
    p99 = statistics.quantiles(latencies, n=100)[98]
    assert p99 < 1.0, f"/healthz p99 {p99:.2f}s"
