"""Delta Lake sink (extra ``delta``): FOCUS tables as Delta tables on a local path or S3.

URL forms for ``open_sink``: ``delta+file:///abs/path`` or ``delta:///abs/path`` (local) and
``delta+s3://bucket/prefix`` (S3, settings from the standard ``AWS_*`` variables). Each table
is the folder ``<root>/<table>``; the loads registry is ``<root>/_focusflow_loads``.
"""

from focusflow.sinks.delta.config import (
    DeltaLocation,
    S3Settings,
    location_from_uri,
    parse_delta_url,
)
from focusflow.sinks.delta.sink import DeltaSink

__all__ = ["DeltaLocation", "DeltaSink", "S3Settings", "location_from_uri", "parse_delta_url"]
