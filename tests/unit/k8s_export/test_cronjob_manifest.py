"""The shipped CronJob (deploy/cronjob/) is valid Kubernetes, safe to run, and configures the
job only through variables ``focusflow k8s-export`` reads — the documented ones included."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices

from focusflow.k8s_export import ExportSettings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "cronjob"
FINOUT_VARS = {"CLUSTER_NAME", "S3_BUCKET", "S3_PREFIX", "SCHEME", "PATH_PREFIX", "HOSTNAME",
               "PORT", "ROLE_ARN", "ROLE_EXTERNAL_ID", "TIME_FRAME", "BACKFILL_DAYS",
               "PROMETHEUS_BEARER_AUTH_TOKEN", "PROMETHEUS_USERNAME", "PROMETHEUS_PASSWORD",
               "PROMETHEUS_X_SCOPE_ORGID", "QUERY_DELAY_SECONDS", "RETENTION_DAYS"}


def documents() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / "k8s-export.yaml").read_text()) if doc]


def cronjob() -> dict[str, Any]:
    return next(doc for doc in documents() if doc["kind"] == "CronJob")


def known_variables() -> set[str]:
    names = {"LOG_LEVEL", "LOG_JSON"}
    for field in ExportSettings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
    return names


@pytest.mark.parametrize("index", range(2))
def test_manifests_pass_kubernetes_validate(index: int) -> None:
    kubernetes_validate.validate(documents()[index], "1.30.0", strict=True)


def test_cronjob_is_safe_to_run() -> None:
    spec = cronjob()["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] >= 3 * 22 * 24 * 5  # a first 3-day backfill fits
    assert job["backoffLimit"] >= 1
    pod = job["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["args"] == ["k8s-export"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_env_uses_only_variables_the_job_reads_and_keeps_secrets_in_secrets() -> None:
    env = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    names = {item["name"] for item in env}
    assert names <= known_variables()
    assert names >= FINOUT_VARS
    for item in env:
        if any(word in item["name"] for word in ("TOKEN", "PASSWORD", "EXTERNAL_ID")):
            assert "valueFrom" in item, item["name"]
    # HOSTNAME is set explicitly, with the non-clashing alias next to it.
    values = {item["name"]: item.get("value") for item in env}
    assert values["HOSTNAME"] == values["PROMETHEUS_HOST"]


def test_kustomize_builds_the_directory() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is missing: apt-get install kubernetes-client")
    built = subprocess.run([kubectl, "kustomize", str(DEPLOY)], check=True,
                           capture_output=True, text=True).stdout
    kinds = [doc["kind"] for doc in yaml.safe_load_all(built) if doc]
    assert sorted(kinds) == ["CronJob", "ServiceAccount"]
