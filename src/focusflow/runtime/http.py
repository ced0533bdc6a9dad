"""A small threaded HTTP server: exact-path routes, each a function of the request.

Layer: ``runtime``. Built on the standard library's ``ThreadingHTTPServer`` (one thread per
connection) because the exporter and scraper serve a handful of endpoints whose bodies are
pre-rendered bytes; no framework is needed. Handlers receive the query and headers and return
a ``Response``; an exception in a handler is logged and answered with 500, never a crash.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from focusflow.errors import ConfigError

logger = logging.getLogger(__name__)


Body = bytes | Sequence[bytes | memoryview]
"""One ``bytes``, or parts written one after another (large bodies are never joined)."""


@dataclass
class Response:
    status: int = 200
    body: Body = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]


Route = Callable[[Request], Response]


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``:port`` means all interfaces) into a bind address."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"--listen {listen!r}: expected HOST:PORT, e.g. 0.0.0.0:2112")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - serving pods listen on all


class HttpServer:
    """Serves ``routes`` on ``listen`` from a background thread until ``stop()``."""

    def __init__(self, listen: str, routes: Mapping[str, Route]) -> None:
        self.routes = dict(routes)
        host, port = parse_listen(listen)
        handler = _handler_class(self.routes)
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise ConfigError(f"--listen {listen}: cannot bind ({exc.strerror})") from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"http-{port}", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    def start(self) -> HttpServer:
        self._thread.start()
        logger.info("serving %s on %s:%d", ", ".join(sorted(self.routes)), self.host, self.port)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever on a server never started
            self._server.shutdown()
        self._server.server_close()


def _handler_class(routes: Mapping[str, Route]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "focusflow"

        def do_GET(self) -> None:
            self._serve(head=False)

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def _serve(self, *, head: bool) -> None:
            parts = urlsplit(self.path)
            route = routes.get(parts.path)
            if route is None:
                response = Response(404, b"not found\n")
            else:
                request = Request(parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()})
                try:
                    response = route(request)
                except Exception:  # a handler bug must not take the server down
                    logger.exception("handler for %s failed", parts.path)
                    response = Response(500, b"internal error\n")
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            chunks = [response.body] if isinstance(response.body, bytes) else response.body
            self.send_header("Content-Length", str(sum(len(chunk) for chunk in chunks)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not head and response.status != 304:
                for chunk in chunks:
                    self.wfile.write(chunk)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

    return Handler
