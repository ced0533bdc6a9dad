"""Resume state of the export job (jobs layer): one small JSON object in the bucket.

``<prefix>/<cluster>/_state.json`` records the start of the last window whose files were all
uploaded. It is written only after a window is complete, so a crash at any point leaves either
the previous state (the window is redone and its files overwritten identically) or the new one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from pydantic import BaseModel, ValidationError

from focusflow.errors import InputError
from focusflow.k8s_export.layout import state_key
from focusflow.k8s_export.storage import ObjectStore

STATE_VERSION = 1


class ExportState(BaseModel):
    """What the next run needs to continue where this one stopped."""

    version: int = STATE_VERSION
    cluster: str
    last_completed_window_start: int
    time_frame: int
    metrics: list[str]
    updated_at: str = ""

    @property
    def next_window_start(self) -> int:
        return self.last_completed_window_start + self.time_frame


def read_state(store: ObjectStore, cluster_root: str) -> ExportState | None:
    """The stored state, None on a first run; a damaged object is an ``InputError``."""
    key = state_key(cluster_root)
    raw = store.get(key)
    if raw is None:
        return None
    where = f"{store.location}/{key}"
    try:
        state = ExportState.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise InputError(f"state object is not valid ({exc.__class__.__name__}); delete it to "
                         "start over from BACKFILL_DAYS", file=where) from exc
    if state.version != STATE_VERSION:
        raise InputError(f"state version {state.version} is not supported (expected "
                         f"{STATE_VERSION})", file=where, column="version")
    return state


def write_state(store: ObjectStore, cluster_root: str, state: ExportState) -> None:
    """Store ``state`` (stamping ``updated_at``); S3 PUTs are atomic per object."""
    stamped = state.model_copy(update={
        "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})
    store.put(state_key(cluster_root), orjson.dumps(stamped.model_dump(),
                                                    option=orjson.OPT_INDENT_2),
              "application/json")
