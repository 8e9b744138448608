"""Fleet states validated robot by robot, each robot's state reused while its JSON is the same.

A fleet state carries every robot of its fleet, but a large fleet's state
changes only in the robots that reported since the last one (the VDA 5050
master control sends a 200-robot fleet state every 10 ms, with some 16 new
robot states in it). Validating the other robots again was most of the
hub's work on such a fleet (4 of its 6 ms decoding a 200-robot frame). A
robot whose JSON is byte for byte what it was in its fleet's last valid
state gets that state's validated :class:`~fleetcore.contract.rmf.RobotState`
again (validated models are never changed after decoding); the fleet's
name, the robots' names and every other robot are validated as always.
"""

from __future__ import annotations

from typing import Any

import orjson

from fleetcore.contract import rmf

MAX_ROBOTS = 10_000
"""Robots remembered; past it the memory starts again (it is only a shortcut)."""


class RobotReuse:
    """The last validated state of each ``(fleet, robot)``, with its JSON."""

    def __init__(self, max_robots: int = MAX_ROBOTS) -> None:
        self._max_robots = max_robots
        self._last: dict[tuple[str, str], tuple[bytes, rmf.RobotState]] = {}

    def validate(self, data: dict[str, Any]) -> rmf.FleetState:
        """``data`` as a :class:`~fleetcore.contract.rmf.FleetState`; raises ``ValidationError``."""
        robots = data.get("robots")
        if not isinstance(robots, dict):
            return rmf.FleetState.model_validate(data)
        fleet = data.get("name")
        given: dict[Any, Any] = {}
        fresh: dict[str, bytes] = {}
        for name, robot in robots.items():
            given[name] = robot
            if not isinstance(fleet, str) or not isinstance(robot, dict):
                continue
            raw = orjson.dumps(robot)
            last = self._last.get((fleet, name))
            if last is not None and last[0] == raw:
                given[name] = last[1]
            else:
                fresh[name] = raw
        state = rmf.FleetState.model_validate({**data, "robots": given})
        if len(self._last) + len(fresh) > self._max_robots:
            self._last.clear()
        for name, raw in fresh.items():
            self._last[(state.name, name)] = (raw, state.robots[name])
        return state
