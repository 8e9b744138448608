"""Validated models encoded for publication; a fleet state from its robots' JSON, each robot
encoded again only once it changed.

A VDA 5050 fleet state carries all of its 200 vehicles 40 times a second,
some 10 of them new; encoding every robot again for each publication was a
fifth of the hub's work on such a fleet. Ingest hands the hub the very same
validated :class:`~fleetcore.contract.rmf.RobotState` for a robot whose
JSON did not change (:mod:`fleetcore.contract.robot_reuse`), so a robot's
encoded JSON is kept with the state it encodes and used again while the
fleet state holds that same object. The bytes are those of encoding the
whole fleet state at once (pydantic encodes a nested model as it encodes it
alone). A fleet state most of whose robots changed, as an RMF fleet
adapter's, is encoded whole, which is cheaper than robot by robot.
"""

from __future__ import annotations

import operator

from pydantic import BaseModel, TypeAdapter

from fleetcore.contract import rmf

MAX_ROBOTS = 10_000
"""Fleets, and robots, remembered; past it the memory starts again (it is only a shortcut)."""

_ROBOTS: TypeAdapter[dict[str, rmf.RobotState]] = TypeAdapter(dict[str, rmf.RobotState])
_NAME: TypeAdapter[str] = TypeAdapter(str)


def dump(model: BaseModel) -> bytes:
    """Encode a validated model as the sender set it (unset fields stay absent)."""
    return model.__pydantic_serializer__.to_json(model, exclude_unset=True)


def _one_robot(name: str, state: rmf.RobotState) -> bytes:
    """``"name":{...}``, as the robot is encoded within its fleet state."""
    return _ROBOTS.dump_json({name: state}, exclude_unset=True)[1:-1]


class FleetJson:
    """Each fleet's last robots, and each robot's :func:`_one_robot` JSON once it came again."""

    def __init__(self, max_robots: int = MAX_ROBOTS) -> None:
        self._max_robots = max_robots
        self._robots: dict[str, dict[str, rmf.RobotState]] = {}
        self._parts: dict[tuple[str, str], tuple[rmf.RobotState, bytes]] = {}

    def encode(self, fleet: rmf.FleetState) -> bytes:
        """``fleet`` as :func:`dump` encodes it."""
        if "robots" not in fleet.model_fields_set:
            return dump(fleet)
        robots = fleet.robots
        before = self._robots.get(fleet.name, {})
        if len(self._robots) >= self._max_robots:
            self._robots.clear()
        self._robots[fleet.name] = robots
        kept = sum(map(operator.is_, robots.values(), map(before.get, robots)))
        if kept * 2 < len(robots):
            return dump(fleet)
        if len(self._parts) + len(robots) > self._max_robots:
            self._parts.clear()
        parts = []
        for name, state in robots.items():
            entry = self._parts.get((fleet.name, name))
            if entry is None or entry[0] is not state:
                entry = self._parts[(fleet.name, name)] = (state, _one_robot(name, state))
            parts.append(entry[1])
        head = b'{"name":' + _NAME.dump_json(fleet.name) + b',"robots":{'
        rest = dump(fleet.model_copy(update={"robots": {}}))
        if not rest.startswith(head + b"}"):
            return dump(fleet)
        return b"".join((head, b",".join(parts), rest[len(head) :]))
