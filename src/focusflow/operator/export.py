"""Pure render function for ``PrometheusExport`` (focusflow.dev/v1alpha1) (operator layer).

A PrometheusExport becomes one CronJob running ``focusflow k8s-export`` with the Finout-style
environment variables (reference k8s-metrics-export.md section 2). Every credential arrives
through ``secretKeyRef`` (or, for a CA bundle, a mounted Secret key); no Secret value is ever
written into the manifest.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from focusflow.errors import ConfigError
from focusflow.k8s_export.settings import ExportSettings
from focusflow.operator import names
from focusflow.operator.models import PrometheusExportSpec, SecretKeyRef, parse_spec
from focusflow.operator.pipeline import owner_reference
from focusflow.operator.pods import SECRETS_DIR, Manifest, SecretMounts, pod_spec, resources
from focusflow.operator.pods import service_account as render_service_account
from focusflow.operator.settings import OperatorSettings

GROUP_VERSION = "focusflow.dev/v1alpha1"
# CronJob names are limited to 52 characters: the Job controller appends an 11-character suffix.
CRONJOB_MAX = 52
# Environment variable -> the spec field it comes from (for error messages).
ENV_FIELDS = {
    "CLUSTER_NAME": "clusterName", "S3_BUCKET": "s3Bucket", "S3_PREFIX": "s3Prefix",
    "PROMETHEUS_URL": "prometheusUrl", "SCHEME": "scheme", "HOSTNAME": "hostname",
    "PROMETHEUS_HOST": "hostname", "PORT": "port", "PATH_PREFIX": "pathPrefix",
    "TIME_FRAME": "timeFrame", "BACKFILL_DAYS": "backfillDays",
    "INITIAL_BACKFILL_DATE": "initialBackfillDate",
    "RETENTION_DAYS": "retentionDays", "QUERY_DELAY_SECONDS": "queryDelaySeconds",
    "METRICS": "metrics", "ROLE_ARN": "roleArn", "ROLE_EXTERNAL_ID": "roleExternalId",
    "PROMETHEUS_X_SCOPE_ORGID": "xScopeOrgId", "PROMETHEUS_INSECURE": "insecure",
    "AWS_ENDPOINT_URL": "awsEndpointUrl", "PROMETHEUS_CA_FILE": "caSecretRef",
    "PROMETHEUS_AUTH_TOKEN": "auth", "PROMETHEUS_BEARER_AUTH_TOKEN": "auth",
    "PROMETHEUS_USERNAME": "auth", "PROMETHEUS_PASSWORD": "auth",
}


class _JobSettings(ExportSettings):
    """The job's own settings model, fed only the rendered env (not the operator's)."""

    @classmethod
    def settings_customise_sources(cls, settings_cls: Any, init_settings: Any,
                                   *_: Any, **__: Any) -> tuple[Any, ...]:
        return (init_settings,)


def _check_job_env(where: str, env: list[Manifest]) -> None:
    """Validate the CronJob env with ``focusflow k8s-export``'s settings (R12: fail here, not
    in a crash-looping Job); Secret-sourced values are stand-ins, never read."""
    values = {e["name"]: e.get("value", "from-secret") for e in env
              if e["name"] in ENV_FIELDS and e["name"] != "HOSTNAME"}
    try:
        _JobSettings(**values)
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(
            f"{where}: field spec.{ENV_FIELDS.get(name, name) or '(spec)'}: {message}") from None


def export_names(name: str) -> dict[str, str]:
    return {"cronjob": names.child_name(name, "export", CRONJOB_MAX),
            "serviceaccount": names.child_name(name, "export-sa")}


def _secret_env(env: str, ref: SecretKeyRef | None, key: str | None = None) -> list[Manifest]:
    if ref is None:
        return []
    return [{"name": env,
             "valueFrom": {"secretKeyRef": {"name": ref.name, "key": key or ref.key}}}]


def _plain_env(spec: PrometheusExportSpec) -> list[Manifest]:
    values: dict[str, object | None] = {
        "CLUSTER_NAME": spec.cluster_name,
        "S3_BUCKET": spec.s3_bucket,
        "S3_PREFIX": spec.s3_prefix,
        "PROMETHEUS_URL": spec.prometheus_url,
        "SCHEME": spec.scheme,
        # Kubernetes sets HOSTNAME to the pod name; set it only when the spec asks for a host,
        # with k8s-export's non-clashing alias next to it.
        "HOSTNAME": spec.hostname,
        "PROMETHEUS_HOST": spec.hostname,
        "PORT": spec.port,
        "PATH_PREFIX": spec.path_prefix,
        "TIME_FRAME": spec.time_frame,
        # Passed on as written ("3d" or 3): the job accepts both, and _check_job_env checks it.
        "BACKFILL_DAYS": spec.backfill_days,
        "INITIAL_BACKFILL_DATE": spec.initial_backfill_date,
        "RETENTION_DAYS": spec.retention_days,
        "QUERY_DELAY_SECONDS": spec.query_delay_seconds,
        "METRICS": ",".join(spec.metrics) if spec.metrics else None,
        "ROLE_ARN": spec.role_arn,
        "ROLE_EXTERNAL_ID": spec.role_external_id,
        "PROMETHEUS_X_SCOPE_ORGID": spec.x_scope_org_id,
        "PROMETHEUS_INSECURE": "true" if spec.insecure else None,
        "AWS_ENDPOINT_URL": spec.aws_endpoint_url,
    }
    return [{"name": k, "value": str(v)} for k, v in values.items() if v is not None]


def render_prometheus_export(body: Manifest, settings: OperatorSettings) -> list[Manifest]:
    """The CronJob (and its ServiceAccount unless the spec names one) of a PrometheusExport."""
    spec = parse_spec(PrometheusExportSpec, body)
    meta = body["metadata"]
    namespace, n = meta["namespace"], export_names(meta["name"])
    where = f"PrometheusExport {namespace}/{meta['name']}"
    auth = spec.auth
    chosen = [f for f, v in (("tokenSecretRef", auth.token_secret_ref),
                             ("bearerTokenSecretRef", auth.bearer_token_secret_ref),
                             ("basicAuthSecretRef", auth.basic_auth_secret_ref)) if v]
    if len(chosen) > 1:
        raise ConfigError(f"{where}: field spec.auth: set at most one of {', '.join(chosen)}")
    if spec.prometheus_url and (spec.hostname or spec.port or spec.scheme):
        raise ConfigError(f"{where}: field spec.prometheusUrl: give either prometheusUrl or "
                          "scheme/hostname/port, not both")
    env = _plain_env(spec)
    env += _secret_env("PROMETHEUS_AUTH_TOKEN", auth.token_secret_ref)
    env += _secret_env("PROMETHEUS_BEARER_AUTH_TOKEN", auth.bearer_token_secret_ref)
    if auth.basic_auth_secret_ref is not None:
        basic = SecretKeyRef(name=auth.basic_auth_secret_ref.name, key="username")
        env += _secret_env("PROMETHEUS_USERNAME", basic, "username")
        env += _secret_env("PROMETHEUS_PASSWORD", basic, "password")
    aws = spec.aws_credentials_secret_ref
    if aws is not None:
        env += _secret_env("AWS_ACCESS_KEY_ID", SecretKeyRef(name=aws.name,
                                                              key=aws.access_key_id_key))
        env += _secret_env("AWS_SECRET_ACCESS_KEY", SecretKeyRef(name=aws.name,
                                                                  key=aws.secret_access_key_key))
    _check_job_env(where, env)
    mounts = SecretMounts(namespace)
    if spec.ca_secret_ref is not None:
        ca = spec.ca_secret_ref
        if ca.namespace not in (None, namespace):
            raise ConfigError(f"{where}: field spec.caSecretRef: Secret must be in {namespace!r}")
        mounts.add(ca.name, ca.key)
        env.append({"name": "PROMETHEUS_CA_FILE",
                    "value": f"{SECRETS_DIR}/{namespace}/{ca.name}/{ca.key}"})

    owner = owner_reference(body)
    labels = names.labels(n["cronjob"], "k8s-export")
    sa = spec.service_account_name or n["serviceaccount"]
    container: Manifest = {"name": "k8s-export", "command": ["focusflow"], "args": ["k8s-export"],
                           "env": env, "resources": resources(memory_limit="512Mi"),
                           "volumeMounts": mounts.mounts()}
    pod = pod_spec(settings, container, mounts.volumes(), sa,
                   automount_token=spec.service_account_name is not None)
    pod["restartPolicy"] = "Never"
    objects: list[Manifest] = []
    if spec.service_account_name is None:
        objects.append(render_service_account(n["serviceaccount"], namespace, labels, owner))
    objects.append({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": n["cronjob"], "namespace": namespace, "labels": labels,
                     "ownerReferences": [owner]},
        "spec": {
            "schedule": spec.schedule,
            "suspend": spec.suspend,
            # One export at a time: the job resumes from state in the bucket (never two writers).
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"metadata": {"labels": labels}, "spec": {
                "backoffLimit": 2,
                "activeDeadlineSeconds": 3300,
                "ttlSecondsAfterFinished": 86400,
                "template": {"metadata": {"labels": labels}, "spec": pod},
            }},
        },
    })
    return objects
