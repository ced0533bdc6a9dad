"""Bounded exponential backoff with full jitter, for every retry path (R11: no hot loops).

Layer: ``runtime``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delay after the n-th consecutive failure: ``uniform(base, min(cap, base * 2**n))``."""

    base: float = 1.0
    cap: float = 300.0
    failures: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def next_delay(self) -> float:
        """Record one more failure and return how long to wait before retrying."""
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 30)))
        self.failures += 1
        # Jitter keeps many replicas from retrying in lockstep; the floor keeps it from 0.
        return self._random.uniform(min(self.base, ceiling), ceiling)

    def reset(self) -> None:
        self.failures = 0
