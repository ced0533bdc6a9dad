"""File-level commits for the Delta sink: add the staged files, remove the replaced ones.

Layer: sinks. delta-rs's ``write_deltalake`` holds the whole write in memory before it commits
(delta-io/delta-rs#2255), so the common load takes another path with bounded memory: each staged
month file is copied as-is into the table folder, and ONE transaction adds those files and
removes the files holding the source's earlier rows for the same periods. Every file focusflow
writes holds one load (so one source) and one month, and carries exact statistics for the
source and period columns; a file qualifies for removal when its statistics prove all its rows
are the source's and in a replaced period. When that cannot be proven (a file compacted from
several sources, missing statistics, a period range) the plan is ``None`` and the sink falls
back to a predicate overwrite, which rewrites at row level.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
from deltalake import DeltaTable, Schema
from deltalake.transaction import AddAction, RemoveAction

from focusflow.sinks.base import PERIOD_COLUMN, SOURCE_COLUMN
from focusflow.sinks.delta.staging import PARTITION_COLUMN, StagedLoad, StagedPart


@dataclass(frozen=True)
class Removal:
    path: str
    size: int
    month: str | None
    rows: int


def upload(staged: StagedLoad, table_uri: str, options: dict[str, str], *, source_id: str,
           load_id: str) -> list[AddAction]:
    """Copy each staged part into the table folder; the add actions that reference them."""
    actions = []
    for index, part in enumerate(staged.parts.values()):
        folder = f"{PARTITION_COLUMN}={part.month or '__HIVE_DEFAULT_PARTITION__'}"
        path = f"{folder}/part-{index:05d}-{load_id}.zstd.parquet"
        _put(part.path, table_uri, path, options)
        actions.append(AddAction(
            path=path, size=part.path.stat().st_size,
            partition_values={PARTITION_COLUMN: part.month},
            modification_time=int(time.time() * 1000), data_change=True,
            stats=_stats(part, source_id, staged.has_period),
        ))
    return actions


def _put(local: Path, table_uri: str, path: str, options: dict[str, str]) -> None:
    """Copy a file into the table folder, streamed (multipart upload on S3)."""
    if "://" not in table_uri:
        target = Path(table_uri) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, target)
        return
    bucket, _, prefix = table_uri.removeprefix("s3://").partition("/")
    # boto3 with the same settings delta-rs gets; unset values fall back to its default chain
    client = boto3.client(
        "s3", endpoint_url=options.get("AWS_ENDPOINT_URL"),
        aws_access_key_id=options.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=options.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=options.get("AWS_SESSION_TOKEN"),
        region_name=options.get("AWS_REGION"),
    )
    client.upload_file(str(local), bucket, f"{prefix.rstrip('/')}/{path}".lstrip("/"))


def _stats(part: StagedPart, source_id: str, has_period: bool) -> str:
    """Exact min/max/null counts of the columns removal decisions read (the rest: unknown)."""
    minimum: dict[str, Any] = {SOURCE_COLUMN: source_id}
    maximum: dict[str, Any] = {SOURCE_COLUMN: source_id}
    nulls: dict[str, int] = {SOURCE_COLUMN: 0}
    if has_period:
        dated = sorted(p for p in part.periods if p is not None)
        if dated:
            minimum[PERIOD_COLUMN], maximum[PERIOD_COLUMN] = _stamp(dated[0]), _stamp(dated[-1])
        nulls[PERIOD_COLUMN] = part.null_periods
    return json.dumps({"numRecords": part.rows, "minValues": minimum, "maxValues": maximum,
                       "nullCount": nulls})


def _stamp(moment: datetime) -> str:
    # the Delta spec's statistics form (milliseconds); billing periods are whole seconds
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def plan_removals(handle: DeltaTable, staged: StagedLoad, source_id: str) -> list[Removal] | None:
    """The files whose rows this load replaces, or ``None`` when files must be rewritten."""
    files = pa.table(handle.get_add_actions(flatten=True))
    names = set(files.column_names)
    needed = {f"min.{SOURCE_COLUMN}", f"max.{SOURCE_COLUMN}", "num_records"}
    if staged.has_period:
        needed |= {f"min.{PERIOD_COLUMN}", f"max.{PERIOD_COLUMN}", f"null_count.{PERIOD_COLUMN}"}
    if files.num_rows and not needed <= names:
        return None
    months = {p.month for p in staged.parts.values()}
    periods = staged.periods
    removals: list[Removal] = []
    for row in files.to_pylist():
        month = row.get(f"partition.{PARTITION_COLUMN}")
        if staged.has_period and month not in months:
            continue  # another month: untouched
        low, high = row.get(f"min.{SOURCE_COLUMN}"), row.get(f"max.{SOURCE_COLUMN}")
        if low is None or high is None:
            return None
        if not low <= source_id <= high:
            continue  # provably none of the source's rows
        if low != high:
            return None  # shares a file with other sources: rewrite at row level
        verdict = _period_verdict(row, periods) if staged.has_period else True
        if verdict is None:
            return None
        if verdict:
            removals.append(Removal(row["path"], int(row["size_bytes"]), month,
                                    int(row["num_records"])))
    return removals


def _period_verdict(row: dict[str, Any], periods: set[datetime | None]) -> bool | None:
    """True: every row's period is replaced; False: none is; None: cannot tell."""
    rows, nulls = int(row["num_records"]), row.get(f"null_count.{PERIOD_COLUMN}")
    low, high = row.get(f"min.{PERIOD_COLUMN}"), row.get(f"max.{PERIOD_COLUMN}")
    if nulls is None:
        return None
    if nulls == rows:  # all rows without a period
        return None in periods
    if nulls or low is None or high is None:
        return None  # some rows with, some without a period: not a file focusflow wrote
    low, high = _utc(low), _utc(high)
    dated = {p for p in periods if p is not None}
    if low == high:
        return low in dated
    if not any(low <= p <= high for p in dated):
        return False
    return None  # a range of periods, some replaced: only a row-level rewrite is exact


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def remove_actions(removals: list[Removal]) -> list[RemoveAction]:
    now = int(time.time() * 1000)
    return [RemoveAction(r.path, True, now, r.size, {PARTITION_COLUMN: r.month})
            for r in removals]


def same_columns(handle: DeltaTable, staged: StagedLoad) -> bool:
    """True when the staged files fit the table schema as it is (no column to add or retype)."""
    table = {f.name: str(f.type) for f in handle.schema().fields}
    ours = {f.name: str(f.type) for f in Schema.from_arrow(staged.schema).fields}
    return all(table.get(name) == kind for name, kind in ours.items())

