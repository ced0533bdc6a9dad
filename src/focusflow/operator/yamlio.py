"""YAML output for manifests: no anchors/aliases, multi-line strings as literal blocks."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        # Rendered manifests share small dicts (labels); kubectl users expect them spelled out.
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_all(docs: list[Any]) -> str:
    """Multi-document YAML, keys in the order the render functions wrote them."""
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
