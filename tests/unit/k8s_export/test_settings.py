"""The environment contract of the export job: Finout's names and defaults, clear errors."""

from __future__ import annotations

import socket

import pytest

from focusflow.errors import ConfigError
from focusflow.k8s_export import CATALOGUE, auth_headers, load_settings

ENV_NAMES = (
    "CLUSTER_NAME", "S3_BUCKET", "S3_PREFIX", "SCHEME", "PATH_PREFIX", "HOSTNAME",
    "PROMETHEUS_HOST", "PORT", "ROLE_ARN", "ROLE_EXTERNAL_ID", "TIME_FRAME", "BACKFILL_DAYS",
    "PROMETHEUS_AUTH_TOKEN", "PROMETHEUS_BEARER_AUTH_TOKEN", "PROMETHEUS_USERNAME",
    "PROMETHEUS_PASSWORD", "PROMETHEUS_X_SCOPE_ORGID", "QUERY_DELAY_SECONDS", "RETENTION_DAYS",
    "METRICS", "PROMETHEUS_URL", "PROMETHEUS_CA_FILE", "PROMETHEUS_INSECURE", "AWS_ENDPOINT_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLUSTER_NAME", "prod-1")
    monkeypatch.setenv("S3_BUCKET", "finout-bucket")
    return monkeypatch


def test_documented_defaults() -> None:
    settings = load_settings()
    assert settings.base_url == "http://localhost:9090"
    assert settings.time_frame == 3600
    assert settings.backfill_days == 3
    assert settings.retention_days == 30
    assert settings.query_delay_seconds == 5
    assert settings.cluster_root == "k8s/prometheus/prod-1"
    assert settings.metrics == tuple(CATALOGUE)
    assert auth_headers(settings) == {}


def test_endpoint_parts_and_url_override(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SCHEME", "https")
    clean_env.setenv("HOSTNAME", "mimir.example")
    clean_env.setenv("PORT", "8080")
    clean_env.setenv("PATH_PREFIX", "/prometheus/")
    assert load_settings().base_url == "https://mimir.example:8080/prometheus"
    clean_env.setenv("PROMETHEUS_URL", "http://vm:8481/select/0/prometheus/")
    assert load_settings().base_url == "http://vm:8481/select/0/prometheus"


def test_pod_hostname_is_not_taken_for_the_prometheus_host(
        clean_env: pytest.MonkeyPatch) -> None:
    # Kubernetes sets HOSTNAME to the pod name; that must not become the Prometheus host.
    clean_env.setenv("HOSTNAME", socket.gethostname())
    assert load_settings().hostname == "localhost"
    clean_env.setenv("PROMETHEUS_HOST", "prometheus.monitoring")
    assert load_settings().hostname == "prometheus.monitoring"


def test_flags_win_over_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TIME_FRAME", "900")
    settings = load_settings(time_frame=1800, cluster_name=None, s3_prefix="")
    assert settings.time_frame == 1800
    assert settings.cluster_name == "prod-1"
    assert settings.cluster_root == "prod-1"


def test_metrics_subset(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("METRICS", " cpu_requests, node_info ,cpu_requests")
    assert load_settings().metrics == ("cpu_requests", "node_info")


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("TIME_FRAME", "1h", "TIME_FRAME"),
    ("TIME_FRAME", "7", "divides 86400"),
    ("TIME_FRAME", "7000", "divides 86400"),
    ("BACKFILL_DAYS", "3d", "BACKFILL_DAYS"),
    ("BACKFILL_DAYS", "-1", "BACKFILL_DAYS"),
    ("METRICS", "cpu_requests,gpu_magic", "gpu_magic"),
    ("SCHEME", "ftp", "SCHEME"),
    ("PORT", "http", "PORT"),
])
def test_bad_values_name_the_variable(clean_env: pytest.MonkeyPatch, name: str, value: str,
                                      expected: str) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings()
    assert name in str(caught.value)


@pytest.mark.parametrize("missing", ["CLUSTER_NAME", "S3_BUCKET"])
def test_required_variables(clean_env: pytest.MonkeyPatch, missing: str) -> None:
    clean_env.delenv(missing)
    with pytest.raises(ConfigError, match=f"{missing}: is required"):
        load_settings()


@pytest.mark.parametrize(("env", "header"), [
    ({"PROMETHEUS_AUTH_TOKEN": "t0k"}, {"Authorization": "t0k"}),
    ({"PROMETHEUS_BEARER_AUTH_TOKEN": "t0k"}, {"Authorization": "Bearer t0k"}),
    ({"PROMETHEUS_USERNAME": "u", "PROMETHEUS_PASSWORD": "p"},
     {"Authorization": "Basic dTpw"}),
    ({"PROMETHEUS_X_SCOPE_ORGID": "tenant-1"}, {"X-Scope-OrgID": "tenant-1"}),
    ({"PROMETHEUS_X_SCOPE_ORGID": "t", "PROMETHEUS_BEARER_AUTH_TOKEN": "b"},
     {"X-Scope-OrgID": "t", "Authorization": "Bearer b"}),
])
def test_auth_headers(clean_env: pytest.MonkeyPatch, env: dict[str, str],
                      header: dict[str, str]) -> None:
    for key, value in env.items():
        clean_env.setenv(key, value)
    assert auth_headers(load_settings()) == header


def test_two_authorization_sources_are_rejected_without_leaking(
        clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PROMETHEUS_AUTH_TOKEN", "s3cr3t-token")
    clean_env.setenv("PROMETHEUS_BEARER_AUTH_TOKEN", "other-s3cr3t")
    with pytest.raises(ConfigError, match="set only one") as caught:
        load_settings()
    assert "s3cr3t" not in str(caught.value)


def test_secrets_do_not_show_in_repr(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PROMETHEUS_USERNAME", "u")
    clean_env.setenv("PROMETHEUS_PASSWORD", "hunter2-pw")
    clean_env.setenv("ROLE_EXTERNAL_ID", "ext-id-secret")
    text = repr(load_settings())
    assert "hunter2-pw" not in text
    assert "ext-id-secret" not in text
