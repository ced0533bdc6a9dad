"""Prometheus-compatible query client of the export job (jobs layer).

Speaks the ``/api/v1`` HTTP API of Prometheus, Thanos, Mimir/Cortex and VictoriaMetrics: sends
exactly one ``Authorization`` source (raw token, bearer, or basic) plus ``X-Scope-OrgID``,
classifies answers by HTTP status first and JSON second, retries what may pass (connection
errors, 429/502/503/504, throttling) with capped exponential backoff, jitter and ``Retry-After``,
and splits a range that is too large (too many points, timeouts) into halves whose results are
merged. A 200 with ``status: error`` is an error; ``warnings``/``isPartial`` fail the query unless
partial responses are allowed. httpx errors become ``SourceError`` here; no header value is
ever logged or put into an error.
"""

from __future__ import annotations

import base64
import logging
import random
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import msgspec
import orjson

from focusflow.errors import SourceError, TransientSourceError
from focusflow.k8s_export.settings import ExportSettings

log = logging.getLogger(__name__)

USER_AGENT = "focusflow-k8s-export"
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 10.0
RETRY_AFTER_CAP_SECONDS = 300.0
_RETRY_STATUSES = {429, 502, 503, 504}
# Messages of Prometheus (400 bad_data), VictoriaMetrics (422) and others that mean "ask less".
_TOO_LARGE = re.compile(
    r"maximum resolution|too many points|maxPointsPerTimeseries|too many samples|"
    r"maxSamplesPerQuery|would load too many|maxUniqueTimeseries|too many series|"
    r"exceeded the limit|limit exceeded", re.IGNORECASE)
_DURATION = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800,
                 "y": 31536000}


class RetryableQueryError(TransientSourceError):
    """The backend may answer later; ``retry_after`` is its own hint in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueryTooLargeError(SourceError):
    """The range must be split: too many points or samples, or the query timed out."""


class QueryTimeoutError(RetryableQueryError):
    """The backend (or the client) timed out: retried once, then the range is split."""


@dataclass
class RangeResult:
    """A query_range answer: the raw JSON bytes of ``data.result`` (kept undecoded: the export
    copies them into its file as they are) and any partial-data warnings."""

    result_type: str
    raw_result: bytes
    warnings: list[str] = field(default_factory=list)

    @property
    def result(self) -> list[dict[str, Any]]:
        """The decoded series (only the split-and-merge path and tests need them)."""
        decoded: list[dict[str, Any]] = orjson.loads(self.raw_result)
        return decoded


class _Data(msgspec.Struct):
    resultType: str = "matrix"  # noqa: N815  Prometheus's field names
    result: msgspec.Raw = msgspec.Raw(b"null")


class _Answer(msgspec.Struct):
    """The envelope of a Prometheus API answer; ``data.result`` is skipped, not decoded, which
    is an order of magnitude cheaper than building Python objects for every sample."""

    status: str = ""
    data: _Data | None = None
    errorType: str = ""  # noqa: N815
    error: str = ""
    warnings: list[str] | None = None
    isPartial: bool = False  # noqa: N815  VictoriaMetrics


_DECODER = msgspec.json.Decoder(_Answer)


def auth_headers(settings: ExportSettings) -> dict[str, str]:
    """The headers of the configured auth mode (reference section 3)."""
    headers: dict[str, str] = {}
    if settings.prometheus_auth_token is not None:
        headers["Authorization"] = settings.prometheus_auth_token.get_secret_value()
    elif settings.prometheus_bearer_auth_token is not None:
        token = settings.prometheus_bearer_auth_token.get_secret_value()
        headers["Authorization"] = f"Bearer {token}"
    elif settings.prometheus_username:
        password = (settings.prometheus_password.get_secret_value()
                    if settings.prometheus_password else "")
        pair = f"{settings.prometheus_username}:{password}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
    if settings.prometheus_x_scope_orgid:
        headers["X-Scope-OrgID"] = settings.prometheus_x_scope_orgid
    return headers


def _verify(settings: ExportSettings) -> ssl.SSLContext | bool:
    if settings.prometheus_insecure:
        return False
    if settings.prometheus_ca_file:
        try:
            return ssl.create_default_context(cafile=settings.prometheus_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise SourceError(f"PROMETHEUS_CA_FILE {settings.prometheus_ca_file}: "
                              f"cannot load CA bundle: {exc}") from exc
    return True


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def parse_duration(text: str) -> float | None:
    """Seconds in a Prometheus duration such as ``15d`` or ``1y2w``, or None."""
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


class PrometheusClient:
    """Sequential queries against one Prometheus-compatible endpoint."""

    def __init__(self, settings: ExportSettings, *,
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        self.base_url = settings.base_url
        self.max_attempts = settings.max_attempts
        self.allow_partial = settings.allow_partial
        self._sleep = sleep
        self._jitter = jitter
        self._http = httpx.Client(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json",
                     **auth_headers(settings)},
            timeout=httpx.Timeout(settings.request_timeout_seconds, connect=10.0),
            verify=_verify(settings),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    # --- public queries ----------------------------------------------------------------------

    def check(self) -> None:
        """Fail early and clearly when the endpoint is unreachable, refuses us or is not an
        ``/api/v1`` API (wrong ``PATH_PREFIX``), before anything is written."""
        self._call("query", {"query": "1"})

    def retention_start(self, now: float) -> float | None:
        """Oldest time the backend still holds, from Prometheus's own retention flag; None when
        the backend does not say (Thanos, Mimir and VictoriaMetrics have no such endpoint)."""
        try:
            response = self._http.get(f"{self.base_url}/api/v1/status/flags")
            flags = orjson.loads(response.content).get("data", {})
        except (httpx.HTTPError, orjson.JSONDecodeError, AttributeError):
            return None
        if response.status_code != 200 or not isinstance(flags, dict):
            return None
        seconds = parse_duration(str(flags.get("storage.tsdb.retention.time", "")))
        return now - seconds if seconds else None

    def query_range(self, query: str, start: int, end: int, step: int) -> RangeResult:
        """``query`` over ``[start, end]`` (inclusive, step-aligned), splitting it into halves
        when the backend finds it too large and merging the pieces."""
        try:
            return self._query_range_once(query, start, end, step)
        except QueryTooLargeError as exc:
            points = (end - start) // step + 1
            if points < 2:
                raise SourceError(f"{self.base_url}: query cannot be split below one step "
                                  f"and still fails: {exc}") from exc
            middle = start + (points // 2) * step
            log.info("splitting range %d..%d at %d: %s", start, end, middle, exc)
            left = self.query_range(query, start, middle - step, step)
            right = self.query_range(query, middle, end, step)
            return merge(left, right)

    # --- plumbing ----------------------------------------------------------------------------

    def _query_range_once(self, query: str, start: int, end: int, step: int) -> RangeResult:
        answer = self._call("query_range", {"query": query, "start": str(start),
                                            "end": str(end), "step": str(step)})
        warnings = [str(w) for w in answer.warnings or []]
        if answer.isPartial:
            warnings.append("isPartial: the backend answered with partial data")
        if warnings and not self.allow_partial:
            raise TransientSourceError(
                f"{self.base_url}: partial response ({'; '.join(warnings)}); the window is not "
                "exported (set ALLOW_PARTIAL_RESPONSES=true to accept partial data)")
        for warning in warnings:
            log.warning("partial response from %s: %s", self.base_url, warning)
        raw = bytes(answer.data.result) if answer.data is not None else b""
        if not raw.startswith(b"["):
            raise SourceError(f"{self.base_url}/api/v1/query_range: answer has no data.result "
                              "list; is this a Prometheus-compatible API?")
        return RangeResult(answer.data.resultType if answer.data else "matrix", raw, warnings)

    def _call(self, endpoint: str, form: dict[str, str]) -> _Answer:
        """POST one API call with retries; returns the success envelope."""
        timeouts = 0
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._post(endpoint, form)
            except QueryTimeoutError as exc:
                timeouts += 1
                if timeouts >= 2 or attempt == self.max_attempts:
                    raise QueryTooLargeError(str(exc)) from exc
                self._backoff(attempt, exc)
            except RetryableQueryError as exc:
                if attempt == self.max_attempts:
                    raise TransientSourceError(
                        f"{exc} (gave up after {attempt} attempts)") from exc
                self._backoff(attempt, exc)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _backoff(self, attempt: int, exc: RetryableQueryError) -> None:
        if exc.retry_after is not None:
            wait = min(exc.retry_after, RETRY_AFTER_CAP_SECONDS)
        else:
            # Full jitter on a capped exponential: spreads retries of many CronJobs apart.
            wait = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
            wait *= 0.5 + self._jitter() / 2
        log.warning("attempt %d failed (%s); retrying in %.1fs", attempt, exc, wait)
        self._sleep(wait)

    def _post(self, endpoint: str, form: dict[str, str]) -> _Answer:
        url = f"{self.base_url}/api/v1/{endpoint}"
        try:
            response = self._http.post(url, data=form)
        except httpx.TimeoutException as exc:
            raise QueryTimeoutError(f"{url}: no answer within the request timeout") from exc
        except httpx.TransportError as exc:
            raise RetryableQueryError(f"cannot reach Prometheus at {url}: {exc}") from exc
        return interpret(url, response)


def interpret(url: str, response: httpx.Response) -> _Answer:
    """Classify one API answer: HTTP status first, JSON body second."""
    status = response.status_code
    try:
        answer: _Answer | None = _DECODER.decode(response.content)
    except msgspec.DecodeError:
        answer = None  # not JSON, or not an API envelope (a proxy's HTML page, ...)
    if status == 200 and answer is not None and answer.status == "success":
        return answer  # before ``response.text``: decoding a large body to text costs
    error_type = answer.errorType if answer else ""
    detail = (answer.error if answer else "") or response.text[:200].strip()
    what = f"{url}: HTTP {status}" + (f" {error_type}" if error_type else "") + (
        f": {detail}" if detail else "")
    if status == 200 and answer is not None:
        if answer.status == "success":
            return answer
        # Some proxies and forks say "error" with a 200; classify like the matching status.
        return _classify(400 if error_type == "bad_data" else 503 if error_type in {
            "timeout", "unavailable"} else 500, error_type, detail, what, response)
    if status == 200:
        raise SourceError(f"{url}: answer is not JSON; is this a Prometheus-compatible API "
                          "(check PROMETHEUS_URL / PATH_PREFIX)?")
    return _classify(status, error_type, detail, what, response)


def _classify(status: int, error_type: str, detail: str, what: str,
              response: httpx.Response) -> _Answer:
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if error_type == "timeout" or "timed out" in detail:
        raise QueryTimeoutError(what, retry_after)
    if status in _RETRY_STATUSES or "ThrottlingException" in detail:
        raise RetryableQueryError(what, retry_after)
    if status in {400, 422} and _TOO_LARGE.search(detail):
        raise QueryTooLargeError(what)
    if status in {401, 403}:
        raise SourceError(f"{what} — the endpoint refused the credentials; check "
                          "PROMETHEUS_USERNAME/PROMETHEUS_PASSWORD, PROMETHEUS_AUTH_TOKEN, "
                          "PROMETHEUS_BEARER_AUTH_TOKEN or PROMETHEUS_X_SCOPE_ORGID")
    if status == 404:
        raise SourceError(f"{what} — no Prometheus API here; check PROMETHEUS_URL or "
                          "PATH_PREFIX (e.g. /prometheus for Mimir, /select/0/prometheus for "
                          "VictoriaMetrics cluster)")
    raise SourceError(what)


def _series_key(series: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(series.get("metric", {}).items()))


def merge(left: RangeResult, right: RangeResult) -> RangeResult:
    """Concatenate two consecutive, non-overlapping ranges series by series, sorted by labels
    as Prometheus sorts a matrix."""
    merged: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for part in (left, right):
        for series in part.result:
            key = _series_key(series)
            if key in merged:
                merged[key]["values"].extend(series.get("values", []))
            else:
                merged[key] = {"metric": series.get("metric", {}),
                               "values": list(series.get("values", []))}
    raw = orjson.dumps([merged[key] for key in sorted(merged)])
    return RangeResult(left.result_type, raw, left.warnings + right.warnings)
