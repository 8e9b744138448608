"""A fleet's log (rmf_api_msgs fleet_log): per-robot entries with monotonic ``seq``.

Like a fleet adapter, the simulator sends only entries added since the last
update; ``seq`` keeps growing per robot (and for the fleet-wide log) so the
hub can order and de-duplicate them.
"""

from __future__ import annotations

import itertools
from typing import Any


class FleetLogBook:
    def __init__(self, fleet: str) -> None:
        self.fleet = fleet
        self._seq: dict[str, itertools.count[int]] = {}
        self._fleet: list[dict[str, Any]] = []
        self._robots: dict[str, list[dict[str, Any]]] = {}

    def add(self, now_ms: int, text: str, *, robot: str = "", tier: str = "info") -> None:
        """Log for ``robot``, or for the fleet as a whole when ``robot`` is empty."""
        seq = next(self._seq.setdefault(robot, itertools.count()))
        entry = {"seq": seq, "tier": tier, "unix_millis_time": now_ms, "text": text}
        if robot:
            self._robots.setdefault(robot, []).append(entry)
        else:
            self._fleet.append(entry)

    def flush(self) -> dict[str, Any] | None:
        """The fleet_log update with what is new, or ``None``."""
        if not self._fleet and not self._robots:
            return None
        update: dict[str, Any] = {"name": self.fleet}
        if self._fleet:
            update["log"] = self._fleet
        if self._robots:
            update["robots"] = self._robots
        self._fleet, self._robots = [], {}
        return update
