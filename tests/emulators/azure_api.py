"""An Azure API emulator for tests: Entra ID token endpoint, Cost Management Query, Monitor metrics.

Built from the documented request/response shapes (``reference/azure.md`` sections 1, 2 and 5),
served over HTTPS (the product refuses plain-http authority and Resource Manager URLs) with a
test CA the fixture generates. It is a test double, not Azure: it implements what the clients
rely on and records every request so tests can assert on counts, bodies and headers.

- ``POST /{tenant}/oauth2/v2.0/token`` (client credentials; ``scope`` form field) and the v1
  ``/{tenant}/oauth2/token`` (``resource``; numbers as strings, as v1 answers them).
- ``POST {scope}/providers/Microsoft.CostManagement/query`` with ``nextLink`` paging (the same
  body must be POSTed to the link) and an optional one-off 429 with ``x-ms-ratelimit-*`` headers.
- ``GET {resourceId}/providers/microsoft.insights/metrics`` with points lacking ``average``.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

QUERY_SUFFIX = "/providers/microsoft.costmanagement/query"
METRICS_SUFFIX = "/providers/microsoft.insights/metrics"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class AzureApiState:
    """What the emulator knows and does; tests change it between calls."""

    tenants: dict[str, dict[str, str]] = field(default_factory=dict)  # tenant -> id -> secret
    token_lifetime: int | str = 3599
    subscriptions: set[str] = field(default_factory=set)
    query_columns: list[dict[str, str]] = field(default_factory=list)
    query_rows: list[list[Any]] = field(default_factory=list)
    page_size: int = 5000
    throttle_next_query: dict[str, str] | None = None  # headers of a one-off 429
    metrics: dict[str, Any] = field(default_factory=dict)  # resource id (lower) -> payload
    valid_tokens: set[str] = field(default_factory=set)
    issued_tokens: list[str] = field(default_factory=list)
    expire_next_jwt: bool = False
    issued: int = 0
    requests: list[Recorded] = field(default_factory=list)

    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if "/oauth2/" in r.path]

    def query_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.lower().endswith(QUERY_SUFFIX)]

    def revoke_tokens(self) -> None:
        """Every issued token is refused from now on (forces a 401)."""
        self.valid_tokens.clear()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(tenant: str, client_id: str, resource: str, lifetime: int, serial: int) -> str:
    """An unsigned JWT with Entra ID's claims: Azurite (``--oauth basic``) checks iss/aud/exp."""
    now = int(time.time())
    claims = {"aud": resource, "iss": f"https://sts.windows.net/{tenant}/", "iat": now,
              "nbf": now - 60, "exp": now + lifetime, "appid": client_id, "tid": tenant,
              "oid": f"00000000-0000-0000-0000-{serial:012d}"}
    header = {"typ": "JWT", "alg": "RS256", "kid": "emulated"}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}." \
           f"{_b64(b'emulated-signature-' + str(serial).encode())}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``state.requests`` instead."""

    def _record(self) -> Recorded:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        record = Recorded(self.command, parts.path, parse_qs(parts.query),
                          {k.lower(): v for k, v in self.headers.items()}, body)
        with self.server.lock:
            self.server.state.requests.append(record)
        return record

    def _send(
        self, status: int, payload: Any = None, headers: dict[str, str] | None = None,
    ) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        record = self._record()
        if "/oauth2/" in record.path:
            self._token(record)
        elif record.path.lower().endswith(QUERY_SUFFIX):
            self._query(record)
        else:
            self._send(404, {"error": {"code": "NotFound", "message": "no such API"}})

    def do_GET(self) -> None:
        record = self._record()
        if record.path.lower().endswith(METRICS_SUFFIX):
            self._metrics(record)
        else:
            self._send(404, {"error": {"code": "NotFound", "message": "no such API"}})

    # --- token endpoint -------------------------------------------------------------------
    def _token(self, record: Recorded) -> None:
        state = self.server.state
        tenant = record.path.strip("/").split("/")[0]
        form = {k: v[0] for k, v in parse_qs(record.body.decode()).items()}
        if tenant not in state.tenants:
            self._send(400, {"error": "invalid_request", "error_description":
                             f"AADSTS90002: Tenant '{tenant}' not found.\r\nTrace ID: x",
                             "error_codes": [90002]})
            return
        clients = state.tenants[tenant]
        client_id = form.get("client_id", "")
        if clients.get(client_id) is None or clients[client_id] != form.get("client_secret"):
            self._send(401, {"error": "invalid_client", "error_description":
                             "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x",
                             "error_codes": [7000215]})
            return
        resource = form.get("resource") or form.get("scope", "").removesuffix("/.default")
        with self.server.lock:
            state.issued += 1
            lifetime = int(str(state.token_lifetime))
            # A token the resource server refuses although expires_in says it is good
            # (revoked, or clocks apart): Azurite checks the JWT's exp claim.
            claim_lifetime = -120 if state.expire_next_jwt else lifetime
            state.expire_next_jwt = False
            token = _jwt(tenant, client_id, resource, claim_lifetime, state.issued)
            state.valid_tokens.add(token)
            state.issued_tokens.append(token)
        if record.path.endswith("/v2.0/token"):
            self._send(200, {"token_type": "Bearer", "expires_in": state.token_lifetime,
                             "ext_expires_in": state.token_lifetime, "access_token": token})
        else:  # v1: numbers as strings
            self._send(200, {"token_type": "Bearer", "expires_in": str(state.token_lifetime),
                             "resource": form.get("resource", ""), "access_token": token})

    def _authorized(self, record: Recorded) -> bool:
        auth = record.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.server.state.valid_tokens:
            self._send(401, {"error": {"code": "ExpiredAuthenticationToken",
                                       "message": "The access token expiry has passed."}})
            return False
        return True

    # --- Cost Management Query ------------------------------------------------------------
    def _query(self, record: Recorded) -> None:
        state = self.server.state
        if not self._authorized(record):
            return
        if state.throttle_next_query is not None:
            headers, state.throttle_next_query = state.throttle_next_query, None
            self._send(429, {"error": {"code": "429", "message": "Too many requests. "
                                       "Please retry."}}, headers)
            return
        scope = record.path[: -len(QUERY_SUFFIX)].strip("/")
        parts = scope.split("/")
        if parts[0].lower() != "subscriptions" or parts[1] not in state.subscriptions:
            self._send(404, {"error": {"code": "SubscriptionNotFound", "message":
                                       f"The subscription '{parts[1] if len(parts) > 1 else ''}'"
                                       " could not be found."}})
            return
        try:
            body = json.loads(record.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict) or "dataset" not in body:
            self._send(400, {"error": {"code": "BadRequest", "message":
                                       "Invalid query definition, Dataset is invalid or not "
                                       "supplied."}})
            return
        skip = int(record.query.get("$skiptoken", ["0"])[0])
        rows = state.query_rows[skip: skip + state.page_size]
        following = skip + state.page_size
        next_link = None
        if following < len(state.query_rows):
            host = self.headers.get("host")
            next_link = (f"https://{host}/{scope}/providers/Microsoft.CostManagement/Query"
                         f"?api-version=2025-03-01&$skiptoken={following}")
        self._send(200, {
            "id": f"{scope}/providers/Microsoft.CostManagement/Query/emulated",
            "name": "emulated", "type": "microsoft.costmanagement/Query",
            "properties": {"nextLink": next_link, "columns": state.query_columns,
                           "rows": rows}},
            {"x-ms-ratelimit-microsoft.costmanagement-qpu-remaining":
             "QueriesPerHour:597,QueriesPerMin:57,QueriesPer10Sec:9"})

    # --- Monitor metrics ------------------------------------------------------------------
    def _metrics(self, record: Recorded) -> None:
        if not self._authorized(record):
            return
        resource = record.path[: -len(METRICS_SUFFIX)]
        payload = self.server.state.metrics.get(resource.lower())
        if payload is None:
            self._send(404, {"error": {"code": "ResourceNotFound", "message":
                                       f"The Resource '{resource}' was not found."}})
            return
        names = record.query.get("metricnames", [""])[0].split(",")
        timespan = record.query.get("timespan", [""])[0]
        interval = record.query.get("interval", ["PT1H"])[0]
        values = [v for v in payload["value"] if v["name"]["value"] in names]
        self._send(200, {**payload, "timespan": timespan, "interval": interval,
                         "value": values})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: AzureApiState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.lock = threading.Lock()


class AzureApiEmulator:
    """Serves the emulated APIs on ``https://127.0.0.1:<port>`` in a background thread."""

    def __init__(self, cert_file: str, key_file: str) -> None:
        self.state = AzureApiState()
        self._server = _Server(self.state)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> AzureApiEmulator:
        self._thread.start()
        return self

    def reset(self) -> AzureApiState:
        self.state = AzureApiState()
        self._server.state = self.state
        return self.state

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
