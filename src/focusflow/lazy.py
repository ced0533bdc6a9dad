"""Modules imported on first use, so a command pays only for the libraries it runs.

``focusflow ingest`` of a Parquet file into DuckDB never calls an Arrow compute kernel, the
CSV parser, the Parquet writer or TLS, yet the modules on its path name them at the top; each
costs tens of milliseconds of a run whose reference (DuckDB's own ``read_parquet``) is under
a second. ``lazy_module`` returns a stand-in that imports the real module at the first
attribute access (through ``importlib``, so concurrent first uses are safe) and from then on
serves its attributes directly. Modules keep their usual import for type checkers::

    if TYPE_CHECKING:
        import pyarrow.compute as pc
    else:
        pc = lazy_module("pyarrow.compute")
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable
from typing import Any


class LazyModule(types.ModuleType):
    """A stand-in for the module ``name``, imported when one of its attributes is read."""

    def __getattr__(self, attribute: str) -> Any:
        module = importlib.import_module(self.__name__)
        # Later reads find the attributes here and skip this method (one set on the stand-in
        # meanwhile, e.g. by a test's monkeypatch, is kept).
        for name, value in module.__dict__.items():
            self.__dict__.setdefault(name, value)
        return getattr(module, attribute)


def lazy_module(name: str) -> types.ModuleType:
    """The module ``name``, imported at its first use (see the module docstring)."""
    return LazyModule(name)


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], object]:
    """A package's module ``__getattr__`` that imports ``package.<module>`` when one of its
    names (``exports``: name -> module) is first read, so importing one light submodule does
    not load every library the package's others use."""
    def attribute(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return attribute
