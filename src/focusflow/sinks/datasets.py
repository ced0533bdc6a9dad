"""One table per FOCUS dataset: which dataset a table holds, and the guard that keeps it so.

Sinks layer, for every sink; jobs call ``check_dataset`` before ``Sink.load``. A table's
columns say which dataset it holds (the same test a file's header passes:
``catalogue.detect_dataset``), in every sink and for tables older than this check; a load whose
file is of another dataset is refused before anything is written, naming both, so Contract
Commitment rows never land in a Cost and Usage table.
"""

from __future__ import annotations

import re

from focusflow.errors import InputError, SinkError, TransientError
from focusflow.focus.catalogue import Dataset, identify_dataset
from focusflow.sinks.base import Sink, query_rows


def table_columns(sink: Sink, table: str) -> list[str] | None:
    """The table's column names, or None when it does not exist (yet)."""
    try:
        names, _ = query_rows(sink, table, "SELECT * FROM {table} LIMIT 0")
    except TransientError:
        raise
    except SinkError:  # no such table: the load creates it (a real fault fails the load)
        return None
    return names


def table_dataset(sink: Sink, table: str) -> Dataset | None:
    """The FOCUS dataset ``table`` holds, or None when it does not exist or no column of it
    tells a dataset (not a FOCUS table: nothing to protect)."""
    columns = table_columns(sink, table)
    return identify_dataset(columns) if columns is not None else None


def default_table(dataset: Dataset) -> str:
    """A table name for the dataset: ``focus`` for Cost and Usage, ``focus_<dataset>`` else."""
    if dataset is Dataset.COST_AND_USAGE:
        return "focus"
    return "focus_" + re.sub(r"(?<!^)(?=[A-Z])", "_", dataset.value).lower()


def check_dataset(sink: Sink, table: str, dataset: Dataset | None, *, file: str) -> None:
    """Refuse to load a ``dataset`` file into a table that holds another dataset (None: rows
    no column of which tells a dataset, e.g. a generic metric: nothing to check)."""
    if dataset is None:
        return
    held = table_dataset(sink, table)
    if held is None or held is dataset:
        return
    raise InputError(
        f"is a FOCUS {dataset.label} file and table {table!r} holds {held.label} rows: one "
        f"table per dataset (load it with --table {default_table(dataset)})", file=file)
