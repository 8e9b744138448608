"""Fleet states decoded by msgspec's strict structs: the common frame, at a quarter of the cost.

Every RMF fleet adapter sends its whole fleet at 2 Hz or more, and a site's
adapters often send at the same instant. Decoding one 50-robot fleet state
with the models (orjson, then pydantic) took the hub 216 µs of CPU, encoding
it again for publication 79 and deriving from it 101; with these structs 52,
20 and 70 (``bench/fleet_state_cpu.py --robots 50 --changed 50``, one run),
and a burst of 100 such fleets is published a third sooner
(``bench/ingest.py --burst``).

The structs mirror :mod:`fleetcore.contract.rmf.fleet` field for field, in
the same order, with the same bounds. A frame they take is one the models
take with the same values, and it is published as the models publish it
(absent fields stay absent). Anything else is decoded again the full way
(:func:`fleetcore.contract.ingest.decode`), which accepts it or says why
not exactly as before: a field the models do not know (they keep it and
publish it), a lax value (``"1.5"`` for a number), an explicit null (the
models publish it, the structs could not tell it from absent), a name
or any text outside plain ASCII (a name's byte count is the models' to
check), an issue whose detail is an object or an array (its depth is). A
shortcut, never a second contract.

A robot equal to its last state in its fleet's last frame is that same
object again, as :mod:`fleetcore.contract.robot_reuse` does for the models:
derivations skip a state they have seen.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from fleetcore.contract import rmf, rooms
from fleetcore.contract.limits import NAME_BYTES
from fleetcore.contract.rmf._base import MAX_ITEMS, SHORT_TEXT_CHARS, name_problem
from fleetcore.contract.rmf.fleet import RobotStatus

Name = Annotated[str, Meta(min_length=1, max_length=NAME_BYTES)]
OptionalName = Annotated[str, Meta(max_length=NAME_BYTES)]
"""In a frame of ASCII without escapes (all :func:`decode` takes) a name's characters are its
bytes, so these are the models' column checks."""
ShortText = Annotated[str, Meta(max_length=SHORT_TEXT_CHARS)]
Items = Meta(max_length=MAX_ITEMS)

MAX_ROBOTS = 10_000
"""Robots remembered for reuse; past it the memory starts again (it is only a shortcut)."""


class Location2D(Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    map: OptionalName
    x: float
    y: float
    yaw: float


class Issue(Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    category: ShortText | None = None
    # The models also take an object or an array here, whose depth is theirs to check.
    detail: str | None = None


class Commission(Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    dispatch_tasks: bool | None = None
    direct_tasks: bool | None = None
    idle_behavior: bool | None = None


class MutexGroups(Struct, forbid_unknown_fields=True, gc=False):
    # Required here: the models default them to [], which a struct would leave out when sent.
    locked: Annotated[list[ShortText], Items]
    requesting: Annotated[list[ShortText], Items]


class RobotState(Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    name: Name | None = None
    status: RobotStatus | None = None
    task_id: OptionalName | None = None
    unix_millis_time: Annotated[int, Meta(ge=0, le=2**63 - 1)] | None = None
    location: Location2D | None = None
    battery: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None
    issues: Annotated[list[Issue], Items] | None = None
    commission: Commission | None = None
    mutex_groups: MutexGroups | None = None


class FleetState(Struct, forbid_unknown_fields=True, gc=False):
    name: Name
    # Required here: the models default it to {}, which a struct would leave out when sent.
    robots: Annotated[dict[Name, RobotState], Items]


class _Frame(Struct, forbid_unknown_fields=True, gc=False):
    type: Literal["fleet_state_update"]
    data: FleetState


AnyFleetState = rmf.FleetState | FleetState
"""A fleet state as ingest decodes it, either way: the same fields."""
AnyRobotState = rmf.RobotState | RobotState

_DECODER = msgspec.json.Decoder(_Frame)
_ENCODER = msgspec.json.Encoder()
_last: dict[tuple[str, str], RobotState] = {}
"""Each robot's state in its fleet's last frame taken here; shared by every hub in the
process (a state is used again only for an equal one)."""


def decode(frame: bytes) -> FleetState | None:
    """A ``fleet_state_update`` frame's fleet state, or None: then decode it the full way."""
    if not frame.isascii() or b"\\u" in frame or b"null" in frame:
        return None
    try:
        state = _DECODER.decode(frame).data
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if name_problem(state.name, rooms.FLEET_STATE, rooms.FLEET_LOG) is not None:
        return None
    _reuse(state)
    return state


def encode(state: FleetState) -> bytes:
    """``state`` as the models publish it."""
    return _ENCODER.encode(state)


def _reuse(state: FleetState) -> None:
    """Put each robot equal to its last state back as that state, and remember the new ones."""
    fleet, robots, last = state.name, state.robots, _last
    if len(last) + len(robots) > MAX_ROBOTS:
        last.clear()
    for name, robot in robots.items():
        key = (fleet, name)
        before = last.get(key)
        if before is not None and before == robot:
            robots[name] = before
        else:
            last[key] = robot
