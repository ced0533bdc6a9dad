"""PostgreSQL sink (psycopg 3): bulk ``COPY`` loads, one transaction per load, for multi-pod use."""

from focusflow.sinks.postgres.sink import PostgresSink, postgres_type

__all__ = ["PostgresSink", "postgres_type"]
