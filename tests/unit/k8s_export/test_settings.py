"""The environment contract of the export job: Finout's names and defaults, clear errors."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from focusflow.errors import ConfigError
from focusflow.k8s_export import CATALOGUE, DEFAULT_METRICS, auth_headers, load_settings

ENV_NAMES = (
    "CLUSTER_NAME", "S3_BUCKET", "S3_PREFIX", "SCHEME", "PATH_PREFIX", "HOSTNAME",
    "PROMETHEUS_HOST", "PORT", "ROLE_ARN", "ROLE_EXTERNAL_ID", "TIME_FRAME", "BACKFILL_DAYS",
    "PROMETHEUS_AUTH_TOKEN", "PROMETHEUS_BEARER_AUTH_TOKEN", "PROMETHEUS_USERNAME",
    "PROMETHEUS_PASSWORD", "PROMETHEUS_X_SCOPE_ORGID", "QUERY_DELAY_SECONDS", "RETENTION_DAYS",
    "METRICS", "PROMETHEUS_URL", "PROMETHEUS_CA_FILE", "PROMETHEUS_INSECURE", "AWS_ENDPOINT_URL",
    "INITIAL_BACKFILL_DATE",
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
    assert settings.metrics == DEFAULT_METRICS
    assert settings.initial_backfill_date is None
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
    ("BACKFILL_DAYS", "3h", "expected a whole number of days: 3 or 3d"),
    ("BACKFILL_DAYS", "-1", "expected a whole number of days: 3 or 3d"),
    ("BACKFILL_DAYS", "3.5d", "expected a whole number of days: 3 or 3d"),
    ("BACKFILL_DAYS", "d", "expected a whole number of days: 3 or 3d"),
    ("BACKFILL_DAYS", "\uff13d", "expected a whole number of days: 3 or 3d"),
    ("INITIAL_BACKFILL_DATE", "01/10/2025", "expected a UTC date YYYY-MM-DD"),
    ("INITIAL_BACKFILL_DATE", "3d", "expected a UTC date YYYY-MM-DD"),
    ("METRICS", "cpu_requests,gpu_magic", "gpu_magic"),
    ("SCHEME", "ftp", "SCHEME"),
    ("PORT", "http", "PORT"),
    ("PROMETHEUS_URL", "prometheus:9090", "not an http:// or https:// URL"),
    ("PROMETHEUS_URL", "ftp://prometheus:9090", "not an http:// or https:// URL"),
    ("PROMETHEUS_URL", "https://", "not an http:// or https:// URL"),
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


@pytest.mark.parametrize(("value", "days"), [("3d", 3), ("3", 3), (" 7d ", 7), ("0d", 0),
                                             ("30", 30)])
def test_backfill_days_accepts_finouts_form_and_integers(
        clean_env: pytest.MonkeyPatch, value: str, days: int) -> None:
    # Finout's docs write BACKFILL_DAYS: "3d"; focusflow took only "3" before.
    clean_env.setenv("BACKFILL_DAYS", value)
    assert load_settings().backfill_days == days


def test_backfill_days_flag_takes_the_same_forms(clean_env: pytest.MonkeyPatch) -> None:
    assert load_settings(backfill_days="5d").backfill_days == 5
    with pytest.raises(ConfigError, match="BACKFILL_DAYS: expected a whole number of days"):
        load_settings(backfill_days="5 days")


@pytest.mark.parametrize(("value", "moment"), [
    ("2025-10-01", datetime(2025, 10, 1, tzinfo=UTC)),
    ("2025-10-01T06:00:00Z", datetime(2025, 10, 1, 6, tzinfo=UTC)),
    ("2025-10-01T08:00:00+02:00", datetime(2025, 10, 1, 6, tzinfo=UTC)),
    ("2025-10-01T06:00:00", datetime(2025, 10, 1, 6, tzinfo=UTC)),
    ("", None),
])
def test_initial_backfill_date_forms(clean_env: pytest.MonkeyPatch, value: str,
                                     moment: datetime | None) -> None:
    clean_env.setenv("INITIAL_BACKFILL_DATE", value)
    assert load_settings().initial_backfill_date == moment


def test_finout_metric_names_are_accepted_and_unknown_ones_list_them(
        clean_env: pytest.MonkeyPatch) -> None:
    finout = "cpu_requests,cpu_usage,cpu_usage_v2,memory_usage,memory_usage_v2," \
             "bytes_received,bytes_transmitted,bytes_received_v2,bytes_transmitted_v2"
    clean_env.setenv("METRICS", finout)
    assert load_settings().metrics == tuple(finout.split(","))
    clean_env.setenv("METRICS", "cpu_requests,network_bytes")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "METRICS: unknown metric(s) network_bytes; expected a comma-separated subset of" \
        in message
    assert "cpu_usage_v2" in message and "bytes_transmitted_v2" in message


def test_finout_only_names_are_not_in_the_default_set() -> None:
    assert set(DEFAULT_METRICS) < set(CATALOGUE)
    extra = set(CATALOGUE) - set(DEFAULT_METRICS)
    assert extra == {"cpu_usage_v2", "memory_usage_v2", "bytes_received", "bytes_transmitted",
                     "bytes_received_v2", "bytes_transmitted_v2"}


def test_a_url_without_a_scheme_is_refused_without_echoing_its_credentials(
        clean_env: pytest.MonkeyPatch) -> None:
    # httpx refuses such a URL on every request as a transport error, which the client
    # retried for seconds before giving up; and the user:password must not reach the message.
    clean_env.setenv("PROMETHEUS_URL", "admin:s3cret-pass@prometheus:9090")
    with pytest.raises(ConfigError, match="PROMETHEUS_URL: is not an http") as caught:
        load_settings()
    assert "s3cret-pass" not in str(caught.value)
    clean_env.setenv("PROMETHEUS_URL", " HTTPS://prometheus:9090/ ")
    assert load_settings().base_url == "HTTPS://prometheus:9090"
