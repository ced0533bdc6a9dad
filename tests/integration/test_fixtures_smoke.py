"""The real servers the suite relies on start and answer (a failing fixture fails here first)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_moto_s3_round_trip(s3_client: Any, s3_bucket: str) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="a/b.txt", Body=b"hello")
    body = s3_client.get_object(Bucket=s3_bucket, Key="a/b.txt")["Body"].read()
    assert body == b"hello"


def test_prometheus_answers_queries(prometheus_factory: Any) -> None:
    server = prometheus_factory()
    response = httpx.get(f"{server.url}/api/v1/query", params={"query": "1+1"})
    assert response.json()["data"]["result"][1] == "2"
