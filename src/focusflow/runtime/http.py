"""The HTTP server of the exporter, scraper and ``run``: exact-path routes over aiohttp.

Layer: ``runtime``. aiohttp's low-level server (already in the image for kopf, maintained, with
a C parser) parses requests and owns the connections in one asyncio loop on a background
thread; routes stay plain functions of a ``Request`` returning a ``Response``, called on a
small bounded thread pool so a slow route never blocks the loop. The limits (``Limits``) are
what the standard library's server lacked: a listen backlog, one timeout that closes a
connection idle or still sending its headers (aiohttp starts it when the connection opens),
bounded header sizes, no request bodies beyond a small cap (a GET's body is read as a body,
never as a second request), a cap on requests in flight (503 + ``Retry-After`` beyond it), and
a send timeout that drops a client which stops reading.

Bodies stream: a ``Response`` body is ``bytes``, a sequence of parts (views on held buffers,
written a slice at a time) or an iterator of parts made on demand (each part made on the pool
when the client has taken the previous one), so a response holds at most one part in memory
whatever its size or the client's speed. ``Response.on_close`` runs when the response ends for
any reason (sent, client gone, timeout): routes release what they held there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from aiohttp import web

from focusflow.errors import ConfigError

logger = logging.getLogger(__name__)

Part = bytes | memoryview
Body = bytes | Sequence[Part] | Iterator[Part]
"""One ``bytes``, parts written one after another, or an iterator making parts on demand."""

_WRITE_SLICE = 256 << 10  # bytes handed to the socket per write: a held part is never copied


@dataclass
class Response:
    status: int = 200
    body: Body = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = None  # of an iterator body when known (else sent chunked)
    on_close: Callable[[], None] | None = None  # runs once the response is over, however
    heavy: bool = False  # a large body: sent by at most ``Limits.heavy_slots`` at once


@dataclass(frozen=True)
class Request:
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    method: str = "GET"


Route = Callable[[Request], Response]


@dataclass(frozen=True)
class Limits:
    """What one server accepts. The defaults suit a pod probed every few seconds and scraped
    by a handful of clients; ``docs/exporter-scraper.md`` explains each."""

    backlog: int = 512  # connections the kernel queues before accept
    idle_timeout: float = 15.0  # s a connection may sit idle or take to send its headers
    send_timeout: float = 60.0  # s one write may wait for a client that does not read
    workers: int = 8  # threads running routes (body parts: heavy_slots + 1 more)
    max_in_flight: int = 256  # requests being answered at once; more get 503
    heavy_slots: int = 4  # large bodies being sent at once; others wait their turn
    heavy_queue: int = 128  # large bodies waiting for a slot; more get 503
    heavy_wait: float = 120.0  # s a large body may wait for a slot before a 503
    max_body: int = 16 << 10  # request body bytes (every route is GET/HEAD)
    max_line: int = 8190  # request line and each header line
    max_headers: int = 64


class _ProtocolLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's protocol logger: a malformed request is the client's problem, worth one
    debug line, not an ERROR with a traceback per bad client (issue 15)."""

    def exception(self, msg: object, *args: object, **kwargs: object) -> None:
        error = kwargs.get("exc_info")
        if isinstance(error, BaseException) and not isinstance(error, ConnectionError):
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.debug("%s: %s", str(msg) % args if args else msg, detail)
        else:
            self.debug(msg, *args)


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``:port`` means all interfaces) into a bind address."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"--listen {listen!r}: expected HOST:PORT, e.g. 0.0.0.0:2112")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - serving pods listen on all


def _listening_socket(listen: str, backlog: int) -> socket.socket:
    host, port = parse_listen(listen)
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family, backlog=backlog)
    except OSError as exc:
        raise ConfigError(f"--listen {listen}: cannot bind ({exc.strerror})") from exc
    sock.setblocking(False)
    return sock


class HttpServer:
    """Serves ``routes`` on ``listen`` from a background thread until ``stop()``.

    The socket is bound and listening when the constructor returns (a port in use is a
    ``ConfigError`` there); requests are answered from ``start()`` on.
    """

    def __init__(self, listen: str, routes: Mapping[str, Route],
                 limits: Limits | None = None) -> None:
        self.routes = dict(routes)
        self.limits = limits or Limits()
        self._sock = _listening_socket(listen, self.limits.backlog)
        self._address = self._sock.getsockname()
        self._pool = ThreadPoolExecutor(self.limits.workers, thread_name_prefix="http-worker")
        # Body parts are made on their own few threads: a probe's route never queues behind
        # the CSV or inflate steps of large responses.
        self._parts = ThreadPoolExecutor(self.limits.heavy_slots + 1,
                                         thread_name_prefix="http-parts")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name=f"http-{self.port}", daemon=True)
        self._runner: web.ServerRunner | None = None
        self._in_flight = 0
        self._heavy: asyncio.Semaphore | None = None  # made on the loop (start)
        self._heavy_waiting = 0

    @property
    def port(self) -> int:
        return int(self._address[1])

    @property
    def host(self) -> str:
        return str(self._address[0])

    def start(self) -> HttpServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result()
        logger.info("serving %s on %s:%d", ", ".join(sorted(self.routes)), self.host, self.port)
        return self

    async def _serve(self) -> None:
        limits = self.limits
        self._heavy = asyncio.Semaphore(limits.heavy_slots)
        server = web.Server(self._dispatch, access_log=None,
                            logger=_ProtocolLog(logging.getLogger(f"{__name__}.protocol")),
                            keepalive_timeout=limits.idle_timeout,
                            max_line_size=limits.max_line, max_field_size=limits.max_line,
                            max_headers=limits.max_headers, lingering_time=2.0)
        self._runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock, backlog=limits.backlog).start()

    def stop(self) -> None:
        if self._thread.is_alive():
            if self._runner is not None:
                with contextlib.suppress(Exception):  # stopping must not fail the caller
                    asyncio.run_coroutine_threadsafe(self._runner.cleanup(),
                                                     self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()
        self._sock.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._parts.shutdown(wait=False, cancel_futures=True)

    # -- one request -------------------------------------------------------------------------
    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        limits = self.limits
        if request.method not in ("GET", "HEAD"):
            return _plain(405, b"method not allowed\n", {"Allow": "GET, HEAD"})
        if (request.content_length or 0) > limits.max_body or (
                request.content_length is None and request.body_exists):
            # Length unknown (chunked) or too large: refuse and close, never parse it as a
            # request. A small body is left to aiohttp, which reads it as this request's.
            refused = _plain(413, b"request body too large\n")
            refused.force_close()  # the unread body must not be parsed as the next request
            return refused
        route = self.routes.get(request.path)
        if route is None:
            return _plain(404, b"not found\n")
        if self._in_flight >= limits.max_in_flight:
            return _plain(503, b"busy, retry later\n", {"Retry-After": "1"})
        self._in_flight += 1
        try:
            return await self._answer(request, route)
        finally:
            self._in_flight -= 1

    async def _answer(self, request: web.BaseRequest, route: Route) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        incoming = Request(request.path, parse_qs(request.query_string),
                           {k.lower(): v for k, v in request.headers.items()}, request.method)
        try:
            response = await loop.run_in_executor(self._pool, route, incoming)
        except Exception:  # a handler bug must not take the server down
            logger.exception("handler for %s failed", request.path)
            return _plain(500, b"internal error\n")
        try:
            if not response.heavy:
                return await self._send(request, response)
            return await self._send_heavy(request, response)
        finally:
            if response.on_close is not None:
                response.on_close()
            if isinstance(response.body, Iterator):
                close = getattr(response.body, "close", None)
                if close is not None:
                    close()

    async def _send_heavy(self, request: web.BaseRequest,
                          response: Response) -> web.StreamResponse:
        """Wait for one of the heavy slots (a queue, FIFO), then send; 503 when it is full."""
        assert self._heavy is not None  # noqa: S101 - set in _serve before any request
        busy = _plain(503, b"busy, retry later\n", {"Retry-After": "5"})
        if self._heavy_waiting >= self.limits.heavy_queue:
            return busy
        self._heavy_waiting += 1
        try:
            async with asyncio.timeout(self.limits.heavy_wait):
                await self._heavy.acquire()
        except TimeoutError:
            return busy
        finally:
            self._heavy_waiting -= 1
        try:
            return await self._send(request, response)
        finally:
            self._heavy.release()

    async def _send(self, request: web.BaseRequest, response: Response) -> web.StreamResponse:
        body = response.body
        out = web.StreamResponse(status=response.status, headers=response.headers)
        out.content_type, _, charset = response.content_type.partition("; charset=")
        if charset:
            out.charset = charset
        parts: Sequence[Part] | Iterator[Part]
        if isinstance(body, bytes | memoryview):
            parts, out.content_length = [body], len(body)
        elif isinstance(body, Iterator):
            parts = body
            if response.length is not None:
                out.content_length = response.length
        else:
            parts, out.content_length = body, sum(len(part) for part in body)
        if response.status in (204, 304) or 100 <= response.status < 200:
            out.content_length = None
        bodiless = request.method == "HEAD" or response.status in (204, 304)
        try:
            await out.prepare(request)
            if not bodiless:
                await self._write_parts(out, parts)
            await out.write_eof()
        except (ConnectionError, TimeoutError, asyncio.CancelledError) as exc:
            # Client gone or not reading: drop the connection, free what it held.
            logger.debug("%s: client dropped (%s)", request.path, type(exc).__name__)
            if request.transport is not None:
                request.transport.abort()
            if isinstance(exc, asyncio.CancelledError):
                raise
        return out

    async def _write_parts(self, out: web.StreamResponse,
                           parts: Sequence[Part] | Iterator[Part]) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.limits.send_timeout
        if isinstance(parts, Iterator):
            while (part := await loop.run_in_executor(self._parts, next, parts, None)) is not None:
                await self._write(out, part, timeout)
        else:
            for part in parts:
                await self._write(out, part, timeout)

    @staticmethod
    async def _write(out: web.StreamResponse, part: Part, timeout: float) -> None:
        view = memoryview(part)
        for start in range(0, len(view), _WRITE_SLICE):
            # aiohttp waits for the socket to drain past a small buffer: one slow client
            # holds at most about one slice here, never the response.
            async with asyncio.timeout(timeout):
                await out.write(view[start:start + _WRITE_SLICE])


def _plain(status: int, text: bytes, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=text, content_type="text/plain",
                        headers=dict(headers or {}))
