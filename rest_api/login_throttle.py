"""Slowing down password guessing: a token bucket of login attempts per address and username.

argon2 already makes each guess cost the server a fifth of a second of
CPU; without a limit, that cost is also a way to overload it. Every
attempt takes a token (a success too: a valid guess is not known in
advance), so one address gets ``login_attempts_per_min`` a minute at one
username after an initial burst of as many. Keyed by username too, so users
behind one ingress or NAT address do not share a budget. Buckets of addresses that have been quiet long
enough to be full again are dropped, so the table stays small.
"""

from __future__ import annotations

import time

from aiohttp import web

from fleetcore.token_bucket import TokenBucket

PRUNE_EVERY = 1024
"""Attempts between two sweeps of idle buckets."""


class LoginThrottle:
    """Login attempts per address; one per app (process), like the attempts it sees."""

    def __init__(self, attempts_per_min: float) -> None:
        self._rate = attempts_per_min / 60.0
        self._burst = max(1, int(attempts_per_min))
        self._refill_s = self._burst / self._rate if self._rate > 0 else float("inf")
        self._buckets: dict[str, tuple[TokenBucket, float]] = {}
        self._attempts = 0

    def wait(self, address: str) -> float:
        """Take an attempt for ``address`` (any key): 0.0 if it may go, else the seconds to wait."""
        now = time.monotonic()
        self._attempts += 1
        if self._attempts % PRUNE_EVERY == 0:
            self._buckets = {
                a: (b, at) for a, (b, at) in self._buckets.items() if now - at < self._refill_s
            }
        bucket = self._buckets.get(address, (TokenBucket(self._rate, self._burst), now))[0]
        self._buckets[address] = (bucket, now)
        return bucket.take()


LOGIN_THROTTLE_KEY = web.AppKey("rest_api_login_throttle", LoginThrottle)

__all__ = ["LOGIN_THROTTLE_KEY", "LoginThrottle"]
