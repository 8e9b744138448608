"""A token bucket: bursts allowed, a steady rate enforced, at the cost of two floats.

The socket.io proxy holds one per connection and kind of event
(:mod:`proxy.sessions`), the REST API one per login address and username
(:mod:`rest_api.login_throttle`). Taking a token is a few float operations
with no task or timer, so 10,000 buckets cost nothing to hold, and a
caller over the limit learns when it could go again.
"""

from __future__ import annotations

import time


class TokenBucket:
    """``rate`` events a second on average, ``burst`` at once."""

    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(max(1, burst))
        self._tokens = self._burst
        self._at = time.monotonic()

    def take(self) -> float:
        """Take one token: 0.0 when the event may go, else the seconds until it could."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._rate if self._rate > 0 else float("inf")


__all__ = ["TokenBucket"]
