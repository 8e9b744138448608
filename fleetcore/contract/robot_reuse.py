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
The parsed values are compared first, and only equal ones encoded: a
robot that changed costs a comparison, not an encoding.
"""

from __future__ import annotations

from typing import Any

import orjson

from fleetcore.contract import rmf

_Last = tuple[dict[str, Any], bytes | None, rmf.RobotState]

MAX_ROBOTS = 10_000
"""Robots remembered; past it the memory starts again (it is only a shortcut)."""


class RobotReuse:
    """The last validated state of each ``(fleet, robot)``, with the JSON value it came from."""

    def __init__(self, max_robots: int = MAX_ROBOTS) -> None:
        self._max_robots = max_robots
        self._last: dict[tuple[str, str], _Last] = {}
        """Per robot its last valid JSON value, that value encoded once it was needed, and
        its state."""

    def validate(self, data: dict[str, Any]) -> rmf.FleetState:
        """``data`` as a :class:`~fleetcore.contract.rmf.FleetState`; raises ``ValidationError``."""
        robots = data.get("robots")
        fleet = data.get("name")
        if not isinstance(robots, dict) or not isinstance(fleet, str):
            return rmf.FleetState.model_validate(data)
        reused: dict[str, rmf.RobotState] = {}
        fresh: dict[str, tuple[dict[str, Any], bytes | None]] = {}
        remembered = self._last
        for name, robot in robots.items():
            if not isinstance(robot, dict):
                continue
            last = remembered.get((fleet, name))
            if last is None or last[0] != robot:
                # Unequal values are different JSON: an RMF fleet adapter's robots all moved,
                # and comparing them is a tenth of the cost of encoding them to compare.
                fresh[name] = (robot, None)
                continue
            # Equal values may still be different JSON (1, 1.0 and true are equal).
            raw = orjson.dumps(robot)
            value, last_raw, last_state = last
            if last_raw is None:
                last_raw = orjson.dumps(value)
                remembered[(fleet, name)] = (value, last_raw, last_state)
            if raw == last_raw:
                reused[name] = last_state
            else:
                fresh[name] = (robot, raw)
        # Updating a dict's keys keeps their order: the robots stay in the order sent.
        given = {**data, "robots": {**robots, **reused}} if reused else data
        state = rmf.FleetState.model_validate(given)
        if len(remembered) + len(fresh) > self._max_robots:
            remembered.clear()
        validated = state.robots
        for name, (value, encoded) in fresh.items():
            remembered[(state.name, name)] = (value, encoded, validated[name])
        return state
