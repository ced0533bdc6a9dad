"""DuckDB sink: the embedded default, one database file, one writer process."""

from focusflow.sinks.duckdb.sink import DuckDBSink

__all__ = ["DuckDBSink"]
