"""Runtime plumbing: backoff bounds, listen addresses, the small HTTP server."""

from __future__ import annotations

import random

import httpx
import pytest

from focusflow.errors import ConfigError
from focusflow.runtime import Backoff, HttpServer, Response, parse_listen


def test_backoff_grows_is_jittered_and_capped() -> None:
    backoff = Backoff(base=1.0, cap=30.0, _random=random.Random(7))  # noqa: S311 - jitter
    delays = [backoff.next_delay() for _ in range(12)]
    assert all(1.0 <= d <= 30.0 for d in delays)
    assert max(delays[:2]) <= 2.0 and max(delays[-4:]) > 2.0
    backoff.reset()
    assert backoff.next_delay() == 1.0  # first retry: exactly the base, never 0


@pytest.mark.parametrize(("listen", "bound"), [
    ("0.0.0.0:2112", ("0.0.0.0", 2112)), (":8080", ("0.0.0.0", 8080)),
    ("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:9", ("::1", 9)),
])
def test_listen_addresses(listen: str, bound: tuple[str, int]) -> None:
    assert parse_listen(listen) == bound


@pytest.mark.parametrize("listen", ["2112", "host:", "host:http", "h:70000"])
def test_bad_listen_addresses(listen: str) -> None:
    with pytest.raises(ConfigError, match="--listen"):
        parse_listen(listen)


def test_server_routes_parts_and_handler_errors() -> None:
    def boom(_: object) -> Response:
        raise RuntimeError("bug")

    server = HttpServer("127.0.0.1:0", {
        "/parts": lambda _: Response(200, [b"a", memoryview(b"bc")], "text/plain"),
        "/boom": boom,
    }).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        parts = httpx.get(f"{base}/parts")
        assert parts.content == b"abc" and parts.headers["content-length"] == "3"
        assert httpx.get(f"{base}/boom").status_code == 500  # logged, server still up
        assert httpx.get(f"{base}/missing").status_code == 404
        assert httpx.get(f"{base}/parts").status_code == 200
    finally:
        server.stop()


def test_port_in_use_is_a_config_error() -> None:
    first = HttpServer("127.0.0.1:0", {}).start()
    try:
        with pytest.raises(ConfigError, match="cannot bind"):
            HttpServer(f"127.0.0.1:{first.port}", {})
    finally:
        first.stop()
    never_started = HttpServer("127.0.0.1:0", {})
    never_started.stop()  # returns at once instead of waiting for a serve loop
