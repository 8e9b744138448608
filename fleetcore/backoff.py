"""How every retry loop waits between failures: exponential, capped, jittered.

A loop that fails again and again (Redis down, the hub unreachable, a commit
refused) waits about ``initial_s``, then about twice that, and so on up to
``max_s``; a success brings it back to ``initial_s`` (:meth:`Backoff.reset`).
Each wait is drawn between half and all of the current step ("equal
jitter"): processes that lost the same server at the same moment do not all
come back in the same instant, and none retries in a tight loop.
"""

from __future__ import annotations

import random


class Backoff:
    """The waits of one retry loop: :meth:`next` after each failure, :meth:`reset` after a success."""

    def __init__(self, initial_s: float, max_s: float, *, rng: random.Random | None = None) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError(f"a backoff needs 0 < initial_s <= max_s, not {initial_s}, {max_s}")
        self.initial_s = initial_s
        self.max_s = max_s
        self._step = initial_s
        self._random = (rng or random.Random()).random

    def next(self) -> float:
        """How long to wait before the next attempt; the step doubles, up to ``max_s``."""
        step = self._step
        self._step = min(step * 2, self.max_s)
        return step * (1 - self._random() / 2)

    def reset(self) -> None:
        """The last attempt succeeded: the next failure waits ``initial_s`` at most again."""
        self._step = self.initial_s
