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

from pydantic import BaseModel, TypeAdapter

from fleetcore.contract import rmf

MAX_ROBOTS = 10_000
"""Robots remembered; past it the memory starts again (it is only a shortcut)."""

_ROBOTS: TypeAdapter[dict[str, rmf.RobotState]] = TypeAdapter(dict[str, rmf.RobotState])
_NAME: TypeAdapter[str] = TypeAdapter(str)


def dump(model: BaseModel) -> bytes:
    """Encode a validated model as the sender set it (unset fields stay absent)."""
    return model.__pydantic_serializer__.to_json(model, exclude_unset=True)


def _one_robot(name: str, state: rmf.RobotState) -> bytes:
    """``"name":{...}``, as the robot is encoded within its fleet state."""
    return _ROBOTS.dump_json({name: state}, exclude_unset=True)[1:-1]


class FleetJson:
    """Each ``(fleet, robot)``'s last state and, once it came again, its :func:`_one_robot` JSON."""

    def __init__(self, max_robots: int = MAX_ROBOTS) -> None:
        self._max_robots = max_robots
        self._last: dict[tuple[str, str], tuple[rmf.RobotState, bytes | None]] = {}

    def encode(self, fleet: rmf.FleetState) -> bytes:
        """``fleet`` as :func:`dump` encodes it."""
        if "robots" not in fleet.model_fields_set:
            return dump(fleet)
        last, robots = self._last, fleet.robots
        if len(last) + len(robots) > self._max_robots:
            last.clear()
        kept: list[bytes | None] = []
        for name, state in robots.items():
            entry = last.get((fleet.name, name))
            if entry is None or entry[0] is not state:
                last[(fleet.name, name)] = (state, None)
                kept.append(None)
            else:
                kept.append(entry[1] or b"")
        if sum(part is not None for part in kept) * 2 < len(robots):
            return dump(fleet)
        parts = []
        for (name, state), part in zip(robots.items(), kept, strict=True):
            if not part:
                part = _one_robot(name, state)
                last[(fleet.name, name)] = (state, part)
            parts.append(part)
        head = b'{"name":' + _NAME.dump_json(fleet.name) + b',"robots":{'
        rest = dump(fleet.model_copy(update={"robots": {}}))
        if not rest.startswith(head + b"}"):
            return dump(fleet)
        return b"".join((head, b",".join(parts), rest[len(head) :]))
