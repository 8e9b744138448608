"""Where an idle vehicle goes by policy: it stays, or returns to a parking spot or a charger.

A vehicle left standing where its last task ended blocks that place (a
corridor, a room's door) for the others, so a site may ask idle vehicles to
return to a parking spot or a charger once they have been idle a while
(``after_s``: a task may come for them meanwhile, and then they would have
driven for nothing). ``stay`` (the default) keeps the earlier behaviour:
traffic control moves a parked vehicle aside only when another needs its node.

Pure: the master control sends the vehicle there as an errand, like a
trip to charge, so the task log and the fleet log say why it moves. The
errand gives way to work: a vehicle on its way back takes a new task as if
it were idle where it is. Its errand is canceled (VDA 5050 ``cancelOrder``)
once it stands on a node, so it never stops on a lane; the new order then
starts there and its reservations replace the errand's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from vda5050.graph import GraphVertex, NavGraph

IdleMode = Literal["stay", "park", "charge"]
IDLE_ERRAND = "idle_policy"
"""Marks an errand's description as the idle policy's, which a task may interrupt."""


@dataclass(frozen=True, slots=True)
class IdlePolicy:
    mode: IdleMode = "stay"
    after_s: float = 60.0
    """How long a vehicle is idle before it returns."""


def home(vertex: GraphVertex, mode: IdleMode) -> bool:
    """Whether a vehicle at ``vertex`` is already where ``mode`` sends idle vehicles."""
    return (mode == "park" and vertex.parking) or (mode == "charge" and vertex.charger)


def errand_description(place: str) -> dict[str, Any]:
    """The description of the idle policy's errand to ``place``."""
    return {"place": place, IDLE_ERRAND: True}


def interruptible(description: Any) -> bool:
    """Whether a task with ``description`` is the idle policy's errand (a task may take over)."""
    return isinstance(description, dict) and description.get(IDLE_ERRAND) is True


def destination(graph: NavGraph, mode: IdleMode, start: str, taken: set[str]) -> str | None:
    """The nearest parking spot or charger from ``start`` not in ``taken``; None if none."""
    reachable = sorted(
        (graph.distance(start, vertex.id), vertex.id)
        for vertex in graph.vertices.values()
        if home(vertex, mode) and vertex.id not in taken
    )
    return next((place for metres, place in reachable if not math.isinf(metres)), None)


@dataclass(slots=True)
class IdleClock:
    """Since when each vehicle has been idle (monotonic seconds)."""

    since: dict[str, float] = field(default_factory=dict)

    def due(self, robot: str, idle: bool, now: float, after_s: float) -> bool:
        """Whether ``robot`` has been idle ``after_s`` by ``now``; restarts when it is busy."""
        if not idle:
            self.since.pop(robot, None)
            return False
        return now - self.since.setdefault(robot, now) >= after_s
