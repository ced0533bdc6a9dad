"""Databricks sink (extras ``delta`` + ``databricks``): Delta tables registered with a warehouse.

URL form: ``databricks://<host>[:port]/<http_path>?catalog=..&schema=..&location=s3://b/prefix``;
the token comes from ``DATABRICKS_TOKEN`` or ``DATABRICKS_TOKEN_FILE``, never from the URL.
It builds on the Delta sink (the one place that writes the tables), so the sinks-independence
contract covers duckdb/postgres/delta and lets databricks depend on delta.
"""

from focusflow.sinks.databricks.config import DatabricksSettings, parse_databricks_url
from focusflow.sinks.databricks.sink import DatabricksSink

__all__ = ["DatabricksSettings", "DatabricksSink", "parse_databricks_url"]
