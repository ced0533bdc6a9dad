"""Cost Management FOCUS exports in Blob storage, driven by their ``manifest.json`` files.

Layer: ``sources``. ``plan_exports`` lists a container path; when it holds export runs
(folders with ``manifest.json``), each manifest is read and validated, runs are grouped per
(export, billing month), the newest ``submittedTime`` per group wins, and every blob the winning
manifest lists must exist with exactly the listed byte count (checked before anything loads;
the reader checks again as it streams). Each winner becomes one ``PartsLoad``: one load, one
transaction, per source and billing period. Blobs no manifest lists (stray parts) are never
read. The source identity is the export's ``resourceId`` (so the same export read through
``az://`` or an https URL is one source); the known fingerprint is the run identity, so an
unchanged run is skipped without reading its parts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from focusflow.errors import InputError
from focusflow.focus import HttpOptions
from focusflow.focus.parts import Part, PartsLoad
from focusflow.sources.azure.blob import BlobReader, BlobRef, is_blob_url, parse_blob_uri
from focusflow.sources.azure.credentials import StaticToken

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def parse_time(value: object) -> datetime | None:
    """Manifest timestamps: naive (UTC), ``Z`` or offsets, up to 7 fractional digits."""
    if value is None or value == "":
        return None
    text = str(value).strip().replace("Z", "+00:00")
    if "." in text:  # Python accepts at most 6 fractional digits
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class ManifestBlob(_Model):
    blob_name: str = Field(alias="blobName", min_length=1)
    byte_count: int = Field(alias="byteCount", ge=0)
    data_row_count: int | None = Field(default=None, alias="dataRowCount")


class ExportConfig(_Model):
    export_name: str | None = Field(default=None, alias="exportName")
    resource_id: str | None = Field(default=None, alias="resourceId")
    type: str | None = None
    data_version: str | None = Field(default=None, alias="dataVersion")


class RunInfo(_Model):
    run_id: str = Field(alias="runId", min_length=1)
    submitted_time: datetime = Field(alias="submittedTime")
    start_date: datetime | None = Field(default=None, alias="startDate")
    end_date: datetime | None = Field(default=None, alias="endDate")

    @field_validator("submitted_time", "start_date", "end_date", mode="before")
    @classmethod
    def _tolerant(cls, value: object) -> datetime | None:
        return parse_time(value)


class Manifest(_Model):
    manifest_version: str | None = Field(default=None, alias="manifestVersion")
    byte_count: int | None = Field(default=None, alias="byteCount")
    blob_count: int | None = Field(default=None, alias="blobCount")
    data_row_count: int | None = Field(default=None, alias="dataRowCount")
    export_config: ExportConfig = Field(default_factory=ExportConfig, alias="exportConfig")
    run_info: RunInfo = Field(alias="runInfo")
    blobs: tuple[ManifestBlob, ...] = Field(min_length=1)

    def check(self, file: str) -> None:
        """The documented totals agree with the blob list."""
        if self.blob_count is not None and self.blob_count != len(self.blobs):
            raise InputError(f"blobCount is {self.blob_count} but {len(self.blobs)} blobs are "
                             "listed", file=file, column="blobCount")
        total = sum(b.byte_count for b in self.blobs)
        if self.byte_count is not None and self.byte_count != total:
            raise InputError(f"byteCount is {self.byte_count} but the listed blobs add up to "
                             f"{total}", file=file, column="byteCount")
        rows = [b.data_row_count for b in self.blobs]
        if self.data_row_count is not None and None not in rows and \
                sum(r or 0 for r in rows) != self.data_row_count:
            raise InputError(f"dataRowCount is {self.data_row_count} but the listed blobs add "
                             f"up to {sum(r or 0 for r in rows)}", file=file,
                             column="dataRowCount")


def parse_manifest(data: bytes, file: str) -> Manifest:
    """A validated manifest; ``InputError`` naming the file and field otherwise."""
    try:
        manifest = Manifest.model_validate(orjson.loads(data))
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not JSON ({exc.msg} at character {exc.pos})", file=file) from None
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InputError(f"not an export manifest: {first['msg']}", file=file,
                         column=field) from None
    manifest.check(file)
    return manifest


@dataclass(frozen=True)
class ExportRun:
    """One manifest found under the location."""

    manifest_path: str
    manifest: Manifest
    ref: BlobRef

    @property
    def export_id(self) -> str:
        config = self.manifest.export_config
        if config.resource_id:
            return config.resource_id
        # No resourceId: the folder above <period>/<timestamp>/<runId>/ names the export.
        folder = self.manifest_path.rsplit("/", 1)[0]
        return "/".join(folder.split("/")[:-3]) or folder

    @property
    def period(self) -> str:
        start = self.manifest.run_info.start_date or self.manifest.run_info.submitted_time
        return start.strftime("%Y-%m")

    @property
    def order(self) -> tuple[datetime, str]:
        return self.manifest.run_info.submitted_time, self.manifest.run_info.run_id


def plan_exports(
    uri: str, reader: BlobReader | None = None,
) -> list[PartsLoad] | None:
    """The loads an export location stands for, or ``None`` when it holds no manifests."""
    ref = parse_blob_uri(uri)
    reader = reader or BlobReader(ref)
    if ref.path.endswith(MANIFEST):
        runs = [_run(reader, ref, ref.path)]
        listing = None
    else:
        prefix = ref.path if not ref.path or ref.path.endswith("/") else ref.path + "/"
        listing = reader.list(prefix)
        manifests = sorted(n for n in listing if n.rsplit("/", 1)[-1] == MANIFEST)
        if not manifests:
            return None
        runs = [_run(reader, ref, name) for name in manifests]
    newest: dict[tuple[str, str], ExportRun] = {}
    for run in runs:
        key = (run.export_id, run.period)
        if key not in newest or run.order > newest[key].order:
            newest[key] = run
    loads = []
    for key in sorted(newest):
        run = newest[key]
        log.info("export %s period %s: run %s (%s) of %d candidate run(s)", key[0], key[1],
                 run.manifest.run_info.run_id, run.manifest.run_info.submitted_time.isoformat(),
                 sum(1 for r in runs if (r.export_id, r.period) == key))
        _verify_blobs(run, reader, listing)
        loads.append(_load(run, ref))
    return loads


def _run(reader: BlobReader, ref: BlobRef, path: str) -> ExportRun:
    shown = ref.child(path).display
    return ExportRun(path, parse_manifest(reader.read(path), shown), ref)


def _verify_blobs(run: ExportRun, reader: BlobReader, listing: dict[str, int] | None) -> None:
    """Every listed blob exists with the listed size: checked before any load starts."""
    shown = run.ref.child(run.manifest_path).display
    for blob in run.manifest.blobs:
        size = listing.get(blob.blob_name) if listing is not None else None
        if size is None:
            size = reader.size(blob.blob_name)
        if size is None:
            raise InputError(f"lists blob {blob.blob_name!r}, which does not exist", file=shown,
                             column="blobs")
        if size != blob.byte_count:
            raise InputError(f"lists blob {blob.blob_name!r} with {blob.byte_count} bytes, but "
                             f"it holds {size} bytes", file=shown, column="blobs")


def _load(run: ExportRun, ref: BlobRef) -> PartsLoad:
    info = run.manifest.run_info
    # Without a resourceId the export's folder (with its account, when known) identifies it.
    source_id = f"azure-export:{run.export_id}" if run.manifest.export_config.resource_id \
        else f"azure-export:{ref.child(run.export_id).display}"
    identity = orjson.dumps({
        "source": source_id, "period": run.period, "run": info.run_id,
        "submitted": info.submitted_time.isoformat(),
        "blobs": [[b.blob_name, b.byte_count] for b in run.manifest.blobs],
    })
    return PartsLoad(
        name=f"{ref.child(run.manifest_path).display} (run {info.run_id})",
        source_id=source_id,
        parts=tuple(Part(ref.child(b.blob_name).uri(), b.byte_count) for b in run.manifest.blobs),
        known_fingerprint="azure-export-run:" + hashlib.sha256(identity).hexdigest(),
    )


def expand_blob_location(uri: str, options: HttpOptions) -> Sequence[PartsLoad] | None:
    """Expander for ``focus.parts``: export folders become loads, a single blob one part."""
    if not is_blob_url(uri):
        return None
    ref = parse_blob_uri(uri)
    credential = StaticToken(options.bearer_token) if options.bearer_token else None
    reader = BlobReader(ref, credential=credential)
    planned = plan_exports(uri, reader)
    if planned is not None:
        return planned
    if ref.endpoint is not None:
        # A single blob at an https URL: read through the az scheme (SDK auth, x-ms-version).
        return [PartsLoad(ref.display, ref.display, (Part(ref.uri()),))]
    return None  # az://container/blob: the az:// scheme opener reads it as a plain file
