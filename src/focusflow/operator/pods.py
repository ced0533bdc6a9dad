"""Pod building blocks shared by every rendered workload (operator layer).

One place decides what a focusflow pod looks like: non-root, read-only root filesystem, no
privilege escalation, all capabilities dropped, a writable ``/tmp``, and Secrets mounted
read-only under the ``--secrets-dir`` layout ``/var/run/secrets/focusflow/<ns>/<name>/<key>``
— only the Secrets the config names, so pods need no Kubernetes API access at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from focusflow.operator.names import volume_name
from focusflow.operator.settings import OperatorSettings

SECRETS_DIR = "/var/run/secrets/focusflow"
CONFIG_DIR = "/etc/focusflow"
RUN_AS = 65532  # the image's non-root user (see Dockerfile)

Manifest = dict[str, Any]


@dataclass
class SecretMounts:
    """Secrets a pod mounts: name -> keys to project (``None`` = every key of the Secret)."""

    namespace: str
    secrets: dict[str, set[str] | None] = field(default_factory=dict)
    # A copy of a Secret of another namespace is mounted where the original would be, so the
    # program finds it under the reference its config names (namespace/name).
    paths: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add(self, name: str, key: str | None = None,
            mounted_as: tuple[str, str] | None = None) -> None:
        if mounted_as is not None:
            self.paths[name] = mounted_as
        if name in self.secrets and self.secrets[name] is None:
            return
        if key is None:
            self.secrets[name] = None
        else:
            self.secrets.setdefault(name, set())
            keys = self.secrets[name]
            if keys is not None:
                keys.add(key)

    def volumes(self) -> list[Manifest]:
        out: list[Manifest] = []
        for name, keys in sorted(self.secrets.items()):
            source: Manifest = {"secretName": name, "defaultMode": 0o440}
            if keys is not None:
                source["items"] = [{"key": k, "path": k} for k in sorted(keys)]
            out.append({"name": volume_name("secret", name), "secret": source})
        return out

    def mounts(self) -> list[Manifest]:
        out = []
        for name in sorted(self.secrets):
            namespace, shown = self.paths.get(name, (self.namespace, name))
            out.append({"name": volume_name("secret", name), "readOnly": True,
                        "mountPath": f"{SECRETS_DIR}/{namespace}/{shown}"})
        return out


def container_security() -> Manifest:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def http_probe(path: str, port: str, period: int) -> Manifest:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period,
            "timeoutSeconds": 5, "failureThreshold": 3}


def resources(cpu: str = "50m", memory: str = "256Mi", memory_limit: str = "1Gi") -> Manifest:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory_limit}}


def pod_spec(settings: OperatorSettings, container: Manifest, volumes: list[Manifest],
             service_account: str, *, automount_token: bool = False) -> Manifest:
    """A pod spec around one container, with the house security settings and ``/tmp``."""
    container = {
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "securityContext": container_security(),
        **container,
    }
    tmp = {"name": "tmp", "mountPath": "/tmp"}  # noqa: S108  (a private emptyDir)
    container["volumeMounts"] = [tmp, *container.get("volumeMounts", [])]
    spec: Manifest = {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": automount_token,
        "securityContext": pod_security(),
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}, *volumes],
    }
    if settings.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in settings.image_pull_secrets]
    return spec


def service_account(name: str, namespace: str, labels: dict[str, str],
                    owner: Manifest, *, automount: bool = False) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace, "labels": labels,
                     "ownerReferences": [owner]},
        "automountServiceAccountToken": automount,
    }
