"""When each fleet's state goes to the hub: at once after a quiet spell, else once a window.

The hub decodes, derives, stores and publishes a whole fleet state for each
one it gets, so a fleet state per vehicle report would cost it O(robots) per
report: O(robots²) a second. Reports are therefore coalesced: a fleet's state
goes out at most once per *window*, its robots x ``per_robot_s`` seconds
(200 robots x 0.05 ms: 10 ms), which keeps the hub's work per second flat
however large the fleet, and every report in a window shows in the next
state with its vehicle's latest report.

The delay this adds to a report is bounded by the window: the first report
after a fleet was quiet for a window goes at once; one that comes sooner
waits for the window's end (on average half a window while reports stream
in). Time is the caller's monotonic clock, so tests drive it.
"""

from __future__ import annotations

import math


class FleetPacer:
    """The due time of each fleet with reports not yet sent; see the module doc."""

    def __init__(self, per_robot_s: float) -> None:
        self._per_robot_s = per_robot_s
        self._sent_at: dict[str, float] = {}
        self._due: dict[str, float] = {}

    def window(self, robots: int) -> float:
        """The least time between two states of a fleet of ``robots`` robots."""
        return robots * self._per_robot_s

    def reported(self, fleet: str, robots: int) -> None:
        """A vehicle of ``fleet`` (``robots`` robots) reported: due a window after the last send."""
        if fleet not in self._due:
            self._due[fleet] = self._sent_at.get(fleet, -math.inf) + self.window(robots)

    def due(self, now: float) -> set[str]:
        """The fleets whose reports are due at ``now``."""
        return {fleet for fleet, at in self._due.items() if at <= now}

    def sent(self, fleets: set[str], now: float) -> None:
        """``fleets`` went to the hub at ``now``, with every report made so far."""
        for fleet in fleets:
            self._sent_at[fleet] = now
            self._due.pop(fleet, None)

    def next_due(self) -> float | None:
        """When the first fleet with reports waiting is due (maybe past), or None if none waits."""
        return min(self._due.values(), default=None)
