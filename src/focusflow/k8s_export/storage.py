"""Object storage of the export job (jobs layer): S3 through boto3, or a local directory.

``S3_BUCKET`` names the destination: ``my-bucket`` or ``s3://my-bucket`` use S3 (the default AWS
credential chain, or STS AssumeRole with ``ROLE_ARN``/``ROLE_EXTERNAL_ID``; ``AWS_ENDPOINT_URL``
for S3-compatible stores), ``file:///some/dir`` writes the same keys below a local directory,
for trying the job without a bucket. botocore errors become ``SinkError`` here.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from focusflow.errors import ConfigError, SinkError, TransientSinkError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

ASSUME_ROLE_SECONDS = 3600
_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout",
                    "InternalError", "ServiceUnavailable", "RequestTimeTooSkewed"}
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys per call


class ObjectStore(Protocol):
    """The few object-store operations the job needs; keys use ``/`` separators."""

    location: str

    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def list_dirs(self, prefix: str) -> list[str]:
        """Names of the immediate "sub-directories" below ``prefix/`` (no slashes)."""
        ...

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key below ``prefix/``."""
        ...

    def delete(self, keys: Iterable[str]) -> int:
        """Delete ``keys``; returns how many were deleted."""
        ...


class LocalStore:
    """Keys as files below a directory; each file is replaced atomically (rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def put(self, key: str, body: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as tmp:
                tmp.write(body)
            os.replace(tmp.name, path)
        except OSError as exc:
            raise SinkError(f"{path}: cannot write: {exc.strerror or exc}") from exc

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SinkError(f"{path}: cannot read: {exc.strerror or exc}") from exc

    def list_dirs(self, prefix: str) -> list[str]:
        path = self._path(prefix)
        if not path.is_dir():
            return []
        return sorted(child.name for child in path.iterdir() if child.is_dir())

    def list_keys(self, prefix: str) -> Iterator[str]:
        path = self._path(prefix)
        if not path.is_dir():
            return
        for file in sorted(path.rglob("*")):
            if file.is_file() and not file.name.startswith(".tmp-"):
                yield "/".join(file.relative_to(self.root).parts)

    def delete(self, keys: Iterable[str]) -> int:
        deleted = 0
        for key in keys:
            path = self._path(key)
            try:
                path.unlink()
                deleted += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise SinkError(f"{path}: cannot delete: {exc.strerror or exc}") from exc
        return deleted


class S3Store:
    """One bucket through boto3 (adaptive retries for throttling)."""

    def __init__(self, bucket: str, client: S3Client) -> None:
        self.bucket = bucket
        self.client = client
        self.location = f"s3://{bucket}"

    def _fail(self, action: str, key: str, exc: Exception) -> SinkError:
        where = f"s3://{self.bucket}/{key}"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", "?"))
            message = str(exc.response.get("Error", {}).get("Message", "")) or code
            error_type = TransientSinkError if code in _TRANSIENT_CODES else SinkError
            return error_type(f"{where}: {action} failed: {code}: {message}")
        return TransientSinkError(f"{where}: {action} failed: {exc}")

    def put(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body,
                                   ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("PutObject", key, exc) from exc

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise self._fail("GetObject", key, exc) from exc
        except BotoCoreError as exc:
            raise self._fail("GetObject", key, exc) from exc

    def list_dirs(self, prefix: str) -> list[str]:
        base = f"{prefix}/" if prefix else ""
        names: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base, Delimiter="/")
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    names.append(common["Prefix"][len(base):].rstrip("/"))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("ListObjectsV2", base, exc) from exc
        return sorted(names)

    def list_keys(self, prefix: str) -> Iterator[str]:
        base = f"{prefix}/" if prefix else ""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base)
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("ListObjectsV2", base, exc) from exc

    def delete(self, keys: Iterable[str]) -> int:
        batch: list[str] = []
        deleted = 0
        for key in keys:
            batch.append(key)
            if len(batch) == _DELETE_BATCH:
                deleted += self._delete_batch(batch)
                batch = []
        if batch:
            deleted += self._delete_batch(batch)
        return deleted

    def _delete_batch(self, keys: list[str]) -> int:
        try:
            answer = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True})
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("DeleteObjects", keys[0], exc) from exc
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise SinkError(f"s3://{self.bucket}/{first.get('Key')}: DeleteObjects failed: "
                            f"{first.get('Code')}: {first.get('Message')}")
        return len(keys)


def _assume_role_session(role_arn: str, external_id: str) -> boto3.Session:
    """A boto3 session whose credentials come from STS AssumeRole and refresh before expiry.

    The STS client uses the default chain and endpoint resolution (``AWS_ENDPOINT_URL_STS``,
    ``AWS_ENDPOINT_URL``, regional endpoint).
    """
    sts = boto3.Session().client("sts")

    def fetch() -> dict[str, Any]:
        request: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": "focusflow-k8s-export",
                                   "DurationSeconds": ASSUME_ROLE_SECONDS}
        if external_id:
            request["ExternalId"] = external_id
        try:
            credentials = sts.assume_role(**request)["Credentials"]
        except (ClientError, BotoCoreError) as exc:
            detail = (exc.response.get("Error", {}).get("Message", "")
                      if isinstance(exc, ClientError) else str(exc))
            raise SinkError(f"STS AssumeRole of {role_arn} failed: {detail}") from exc
        return {"access_key": credentials["AccessKeyId"],
                "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"],
                "expiry_time": credentials["Expiration"].isoformat()}

    refreshable = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role")
    session = botocore.session.get_session()
    # botocore has no public setter for a ready credentials object; this is the usual way.
    session._credentials = refreshable  # type: ignore[attr-defined]
    return boto3.Session(botocore_session=session)


def open_store(bucket: str, *, role_arn: str = "", external_id: str = "",
               endpoint_url: str = "") -> ObjectStore:
    """The store named by ``S3_BUCKET`` (see the module docstring)."""
    if bucket.startswith("file://"):
        path = bucket.removeprefix("file://")
        if not path:
            raise ConfigError("S3_BUCKET: file:// needs a directory, e.g. file:///tmp/export")
        return LocalStore(Path(path).expanduser().resolve())
    name = bucket.removeprefix("s3://").strip("/")
    if not name or "/" in name:
        raise ConfigError(f"S3_BUCKET: {bucket!r} is not a bucket name; put key prefixes in "
                          "S3_PREFIX")
    endpoint = endpoint_url or None
    try:
        session = (_assume_role_session(role_arn, external_id) if role_arn
                   else boto3.Session())
        client = session.client("s3", endpoint_url=endpoint, config=Config(
            retries={"mode": "adaptive", "max_attempts": 8}))
    except BotoCoreError as exc:
        raise ConfigError(f"S3_BUCKET: cannot set up the S3 client: {exc}") from exc
    log.debug("writing to s3://%s%s", name, " via AssumeRole" if role_arn else "")
    return S3Store(name, client)
