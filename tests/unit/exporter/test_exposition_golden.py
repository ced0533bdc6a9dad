"""The ``/metrics`` exposition is pinned byte for byte to the output of the first renderer.

``exposition_golden.json`` holds, per case, the SHA-256, size, series and skipped counts the
renderer produced before it was tuned for speed (and the full text of the small cases, so a
difference is readable). Every sample file is rendered in the four shapes (``cost`` snake_case,
``cost`` verbatim names, ``aggregateBy``, ``generic``), plus hand-made inputs with ``"``, ``\\``
and newlines in label values, NULL cells, duplicate rows, non-numeric values and Azure Monitor
JSON. Regenerate (``python tests/unit/exporter/test_exposition_golden.py``) only for an
intended change of the exposition.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from focusflow.errors import InputError
from focusflow.exporter import ExporterConfig, exposition
from focusflow.exporter.decode import decode
from focusflow.exporter.exposition import render, render_parts
from focusflow.sources import Fetched

REPO = Path(__file__).resolve().parents[3]
GOLDEN = Path(__file__).with_name("exposition_golden.json")
SAMPLES = sorted([*REPO.glob("examples/data/*.csv"), *(  # the upstream sample: its own tests
    p for p in REPO.glob("tests/data/**/*.csv") if "focus-sample-data" not in p.parts)])

TRICKY = (
    b"BilledCost,ServiceName,Resource Id,Tags,x_Note,RegionName\n"
    b'1.5,"EC2 ""big""",a\\b,"{""env"": ""prod"",""k"": ""v""}",n,"line1\nline2"\n'
    b"2.25,S3,,,,\n"
    b"2.25,S3,,,,\n"
    b"2.25,S3,,,,\n"
    b'0.1,"back\\\\slash ""q""",x,"{""a"":""b\\\\c""}",,eu\n'
    b"1e-7,Lambda,y,,,\n"
    b"-0,Lambda,y2,,,\n"
    b"123456789012345678,Big,z,,,\n"
    b"3,Three,w,,,\n"
)
GENERIC_CSV = (
    b"value,Name With Space,quote,nl\n"
    b'1,a,"he said ""hi""","x\ny"\n'
    b"abc,b,c,d\n"
    b",c,,\n"
    b"-1e3,d,e,f\n"
    b' 2.5 ,e,"back\\slash",g\n'
    b"+Inf,f,,\n"
    b".5,g,,\n"
    b'1,a,"he said ""hi""","x\ny"\n'
)
MONITOR = json.dumps({"value": [
    {"name": {"value": "Percentage CPU"}, "unit": "Percent", "timeseries": [{"data": [
        {"timeStamp": "2025-06-04T00:15:00Z", "average": 1.23},
        {"timeStamp": "2025-06-04T00:30:00Z"},
        {"timeStamp": "2025-06-04T00:45:00Z", "average": 0.1}]}]},
    {"name": {"value": "Disk Read Bytes/sec"}, "unit": "Bytes", "timeseries": [{"data": [
        {"timeStamp": "2025-06-04T00:15:00Z", "average": 1024},
        {"timeStamp": "2025-06-04T00:30:00Z", "average": 3e-9}]}]}]}).encode()


def cases() -> list[tuple[str, dict[str, Any], bytes, str]]:
    # The first pins were made with snake_case names, then the default; Krateo's names are
    # the default now (``:verbatim``, ``:krateo``).
    base: dict[str, Any] = {"source": "x", "pollingInterval": "1m", "labelNames": "snake"}
    krateo: dict[str, Any] = {"source": "x", "pollingInterval": "1m"}
    out = []
    for path in SAMPLES:
        rel, body = str(path.relative_to(REPO)), path.read_bytes()
        out += [
            (f"{rel}:cost", base, body, "text/csv"),
            (f"{rel}:verbatim", {**base, "labelNames": "verbatim"}, body, "text/csv"),
            (f"{rel}:aggregate", {**base, "aggregateBy": ["ServiceName", "RegionName"]}, body,
             "text/csv"),
            (f"{rel}:generic", {**base, "metricType": "generic", "generic": {
                "metricName": "cost", "valueColumnIndex": 3}}, body, "text/csv"),
        ]
    out += [
        ("tricky:cost", base, TRICKY, "text/csv"),
        ("tricky:verbatim", {**base, "labelNames": "verbatim"}, TRICKY, "text/csv"),
        ("tricky:aggregate", {**base, "aggregateBy": ["ServiceName", "Tags"]}, TRICKY,
         "text/csv"),
        ("generic_csv", {**base, "metricType": "generic", "generic": {
            "metricName": "my metric", "valueColumnIndex": 0}}, GENERIC_CSV, "text/csv"),
        ("monitor", {**base, "metricType": "Resource",
                     "additionalVariables": {"ResourceId": '/vm"01'}}, MONITOR,
         "application/json"),
        ("generic_csv:krateo", {**krateo, "metricType": "generic", "generic": {
            "metricName": "my metric", "valueColumnIndex": 0}}, GENERIC_CSV, "text/csv"),
        ("monitor:krateo", {**krateo, "metricType": "Resource",
                            "additionalVariables": {"ResourceId": '/vm"01'}}, MONITOR,
         "application/json"),
        ("tricky:krateo", krateo, TRICKY, "text/csv"),
    ]
    return out


def outcome(config_data: dict[str, Any], body: bytes, content_type: str) -> dict[str, Any]:
    config = ExporterConfig.parse(config_data, where="golden")
    try:
        rendered = render(decode(Fetched(name="r", body=body, content_type=content_type),
                                 config), config)
    except InputError as exc:
        return {"error": str(exc)}
    text = rendered.text
    got: dict[str, Any] = {"sha256": hashlib.sha256(text).hexdigest(), "size": len(text),
                           "series": rendered.series, "skipped": rendered.skipped}
    if len(text) < 5000:
        got["text"] = text.decode()
    return got


EXPECTED: dict[str, dict[str, Any]] = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


@pytest.mark.parametrize(("name", "config_data", "body", "content_type"), cases(),
                         ids=[case[0] for case in cases()])
def test_exposition_matches_the_pinned_output(
    name: str, config_data: dict[str, Any], body: bytes, content_type: str,
) -> None:
    got = outcome(config_data, body, content_type)
    expected = EXPECTED[name]
    if "text" in expected:  # readable diff first
        assert got.get("text") == expected["text"]
    assert got == expected


def test_every_case_is_pinned_and_the_tricky_ones_escape() -> None:
    assert sorted(EXPECTED) == sorted(case[0] for case in cases())
    tricky = EXPECTED["tricky:cost"]["text"]
    assert 'service_name="EC2 \\"big\\""' in tricky and 'resource_id="a\\\\b"' in tricky
    assert 'region_name="line1\\nline2"' in tricky and ',duplicate="3"} 2.25' in tricky
    assert 'resource_id="",tags="",region_name=""' in tricky  # NULL cells are empty values


def test_large_string_path_renders_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past 2 GiB the join switches to 64-bit offsets; forced here on small inputs."""
    monkeypatch.setattr(exposition, "STRING_LIMIT", 0)
    for name, config_data, body, content_type in cases():
        if name.startswith(("tricky", "generic_csv", "monitor", "examples/data/focus_1_2_cost_"
                                                                "and_usage_aws")):
            got = outcome(config_data, body, content_type)
            assert got == EXPECTED[name], name


@pytest.mark.parametrize(("prefix", "slice_bytes"), [
    ("tricky", 1), ("generic_csv", 1), ("monitor", 1),
    ("examples/data/focus_1_2_cost_and_usage_azure.csv:cost", 150_000),
    ("tests/data/v13/focus_1_3_contract_commitment_aws.csv:generic", 2_000),
])
def test_rendering_slice_by_slice_gives_the_same_bytes(prefix: str, slice_bytes: int) -> None:
    """Rows are rendered a slice at a time (one row, ~60 rows); the text must not change."""
    for name, config_data, body, content_type in cases():
        if not name.startswith(prefix):
            continue
        config = ExporterConfig.parse(config_data, where="golden")
        decoded = decode(Fetched(name="r", body=body, content_type=content_type), config)
        exposition = render_parts(decoded, config, slice_bytes=slice_bytes)
        parts = list(exposition.parts)
        text = b"".join(parts)
        assert hashlib.sha256(text).hexdigest() == EXPECTED[name]["sha256"], name
        assert (exposition.series, exposition.skipped) == (EXPECTED[name]["series"],
                                                           EXPECTED[name]["skipped"])
        assert len(parts) > 3  # really sliced


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps({name: outcome(c, b, t) for name, c, b, t in cases()},
                                 indent=1) + "\n")
