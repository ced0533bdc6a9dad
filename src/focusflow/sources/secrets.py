"""Secret stores: where endpoint and database credentials are read from.

Layer: ``sources``. A ``SecretStore`` returns one Kubernetes-style Secret as a mapping of key to
``SecretStr``. ``DirectorySecretStore`` reads the layout Kubernetes uses when it mounts Secrets,
``DIR/<namespace>/<name>/<key>`` (one file per key), which is also how local runs and tests pass
credentials. The in-cluster store (Kubernetes API) is ``focusflow.runtime.kube``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from focusflow import redaction
from focusflow.errors import ConfigError, SourceError


class SecretStore(Protocol):
    """Reads one Secret by namespace and name."""

    def get(self, namespace: str, name: str) -> Mapping[str, SecretStr]:
        """Every key of the Secret; raises ``SourceError`` when it cannot be read."""
        ...


class DirectorySecretStore:
    """Secrets as files: ``root/<namespace>/<name>/<key>``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ConfigError(f"--secrets-dir {self.root}: not a directory")

    def get(self, namespace: str, name: str) -> Mapping[str, SecretStr]:
        for part in (namespace, name):
            if not part or "/" in part or part in {".", ".."}:
                raise ConfigError(f"secret reference {namespace}/{name}: invalid name")
        folder = self.root / namespace / name
        if not folder.is_dir():
            raise SourceError(f"secret {namespace}/{name} not found under {self.root}")
        values: dict[str, SecretStr] = {}
        for path in sorted(folder.iterdir()):
            # Kubernetes mounts keys through ..data symlinks; hidden entries are its plumbing.
            if path.name.startswith(".") or not path.is_file():
                continue
            try:
                values[path.name] = SecretStr(path.read_text(encoding="utf-8"))
                redaction.remember(values[path.name])
            except (OSError, UnicodeDecodeError) as exc:
                raise SourceError(f"secret {namespace}/{name} key {path.name}: unreadable") from exc
        return values
