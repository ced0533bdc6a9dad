"""Files the CLI writes (exports, charts): whole or not at all.

Layer: ``cli``. ``atomic_write`` writes to a temporary file beside the target and renames it
over the target only when writing succeeded, so a full disk, an unwritable folder or an
interrupt never leaves a truncated file; every such failure is one ``ConfigError`` line.
``removed_if_failed`` does the same for a database file a failed command would leave empty.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from focusflow.errors import ConfigError
from focusflow.sinks import duckdb_path


def atomic_write(out: Path, write: Callable[[Path], object]) -> None:
    """Call ``write`` on a temporary path beside ``out``, then rename it to ``out``."""
    if out.is_dir():
        raise ConfigError(f"cannot write {out}: it is a directory; give a file name")
    temporary: Path | None = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(handle)
        temporary = Path(name)
        write(temporary)
        os.replace(temporary, out)
    except OSError as exc:  # pyarrow's IO errors are OSErrors too
        reason = exc.strerror or str(exc).splitlines()[0]
        raise ConfigError(f"cannot write {out}: {reason}; nothing was written") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()


@contextmanager
def removed_if_failed(db_url: str) -> Iterator[None]:
    """A DuckDB file that did not exist before the block is removed again if the block fails
    (after the block closed it): a failed run leaves no empty database behind."""
    path = _new_duckdb_file(db_url)
    try:
        yield
    except BaseException:
        if path is not None:
            for leftover in (path, path.with_name(path.name + ".wal")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        raise


def _new_duckdb_file(db_url: str) -> Path | None:
    if urlsplit(db_url).scheme.lower() != "duckdb":
        return None
    try:
        path = Path(duckdb_path(db_url))
    except ConfigError:
        return None
    return None if str(path) == ":memory:" or path.exists() else path
