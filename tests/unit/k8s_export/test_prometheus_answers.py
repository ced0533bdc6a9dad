"""Classification of Prometheus-compatible API answers, Retry-After, durations and merging."""

from __future__ import annotations

import httpx
import orjson
import pytest

from focusflow.errors import SourceError, TransientSourceError
from focusflow.k8s_export.prometheus import (
    QueryTimeoutError,
    QueryTooLargeError,
    RangeResult,
    RetryableQueryError,
    interpret,
    merge,
    parse_duration,
)

URL = "http://prom/api/v1/query_range"


def answer(status: int, body: object | None = None, text: str = "",
           headers: dict[str, str] | None = None) -> httpx.Response:
    content = orjson.dumps(body) if body is not None else text.encode()
    return httpx.Response(status, content=content, headers=headers or {})


def error_body(error_type: str, error: str) -> dict[str, str]:
    return {"status": "error", "errorType": error_type, "error": error}


def test_success_keeps_the_result_bytes_undecoded() -> None:
    body = {"status": "success", "isPartial": False, "data": {"resultType": "matrix", "result": [
        {"metric": {"pod": "a"}, "values": [[1, "NaN"], [2, "+Inf"]]}]}, "stats": {"x": 1}}
    envelope = interpret(URL, answer(200, body))
    assert envelope.status == "success"
    assert envelope.data is not None
    assert bytes(envelope.data.result) == orjson.dumps(body["data"]["result"])
    assert envelope.warnings is None


def test_status_error_with_http_200_is_an_error() -> None:
    with pytest.raises(SourceError, match="execution: many-to-many"):
        interpret(URL, answer(200, error_body("execution", "many-to-many matching")))


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses_carry_retry_after(status: int) -> None:
    with pytest.raises(RetryableQueryError) as caught:
        interpret(URL, answer(status, text="busy", headers={"Retry-After": "7"}))
    assert caught.value.retry_after == 7.0
    assert f"HTTP {status}" in str(caught.value)


def test_retry_after_as_http_date_in_the_past_is_zero() -> None:
    with pytest.raises(RetryableQueryError) as caught:
        interpret(URL, answer(503, text="x",
                              headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    assert caught.value.retry_after == 0.0


def test_amp_throttling_400_is_retried() -> None:
    with pytest.raises(RetryableQueryError):
        interpret(URL, answer(400, text="ThrottlingException: Rate exceeded"))


@pytest.mark.parametrize(("status", "body"), [
    (400, error_body("bad_data", "exceeded maximum resolution of 11,000 points per "
                                 "timeseries. Try decreasing the query resolution")),
    (422, error_body("bad_data", "cannot generate more than 30000 points; "
                                 "-search.maxPointsPerTimeseries=30000")),
    (422, error_body("execution", "query processing would load too many samples into memory")),
])
def test_too_large_answers_ask_for_a_split(status: int, body: object) -> None:
    with pytest.raises(QueryTooLargeError):
        interpret(URL, answer(status, body))


def test_timeouts_are_their_own_kind() -> None:
    with pytest.raises(QueryTimeoutError):
        interpret(URL, answer(503, error_body("timeout", "query timed out in expression "
                                                         "evaluation")))


def test_auth_and_not_found_say_what_to_check() -> None:
    with pytest.raises(SourceError, match=r"no org id.*PROMETHEUS_X_SCOPE_ORGID"):
        interpret(URL, answer(401, text="no org id"))
    with pytest.raises(SourceError, match="PATH_PREFIX"):
        interpret(URL, answer(404, text="404 page not found"))
    with pytest.raises(SourceError, match="not JSON"):
        interpret(URL, answer(200, text="<html>login</html>"))


def test_other_422_is_permanent() -> None:
    with pytest.raises(SourceError) as caught:
        interpret(URL, answer(422, error_body("execution", "many-to-many matching not "
                                                           "allowed")))
    assert not isinstance(caught.value, TransientSourceError | QueryTooLargeError)


@pytest.mark.parametrize(("text", "seconds"), [
    ("15d", 15 * 86400), ("1y2w", 31536000 + 2 * 604800), ("90m", 5400), ("0s", 0),
    ("", None), ("15 days", None), ("10GB", None),
])
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_merge_concatenates_series_and_sorts_by_labels() -> None:
    left = RangeResult("matrix", orjson.dumps([
        {"metric": {"pod": "b"}, "values": [[0, "1"], [60, "2"]]},
        {"metric": {"pod": "a"}, "values": [[60, "5"]]},
    ]))
    right = RangeResult("matrix", orjson.dumps([
        {"metric": {"pod": "c"}, "values": [[120, "9"]]},
        {"metric": {"pod": "b"}, "values": [[120, "3"]]},
    ]), warnings=["w"])
    merged = merge(left, right)
    assert merged.result == [
        {"metric": {"pod": "a"}, "values": [[60, "5"]]},
        {"metric": {"pod": "b"}, "values": [[0, "1"], [60, "2"], [120, "3"]]},
        {"metric": {"pod": "c"}, "values": [[120, "9"]]},
    ]
    assert merged.warnings == ["w"]
