"""In-memory sink: the loading semantics over plain Arrow tables, for tests of the layers above."""

from focusflow.sinks.memory.sink import MemorySink

__all__ = ["MemorySink"]
