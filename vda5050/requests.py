"""RMF task requests a VDA 5050 fleet takes, read into phases of steps over the navigation graph.

Taken: ``patrol`` (``places``, ``rounds``), ``delivery`` (``pickup`` and
``dropoff``, each ``{place, handler, payload}``: a ``pick`` action at the
pickup place, a ``drop`` action at the dropoff place) and ``compose`` whose
phases are sequences of ``go_to_place`` (a place name, ``{waypoint}`` or
``{one_of: [{waypoint}, ...]}``), ``pickup`` and ``dropoff`` activities, as
rmf-web's dashboard sends them. Anything else is refused with the reason.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from fleetcore.errors import FleethubError
from vda5050.graph import GraphVertex, NavGraph

CATEGORIES = ("patrol", "delivery", "compose")
MAX_ROUNDS = 100


class TaskRefused(FleethubError):
    """A task request a VDA 5050 fleet cannot do; the message says why (RMF's error detail)."""


class StepSpec(BaseModel):
    """One thing to do: drive to ``place``, or perform ``action`` (``pick``/``drop``) there."""

    kind: str
    """``go``, ``pick`` or ``drop``."""
    place: str
    handler: str = ""
    payload: list[Any] = []

    @property
    def name(self) -> str:
        if self.kind == "go":
            return f"Go to [place:{self.place}]"
        verb = "Pick up" if self.kind == "pick" else "Drop off"
        return f"{verb} at [place:{self.place}]" + (
            f" ([handler:{self.handler}])" if self.handler else ""
        )


class PhaseSpec(BaseModel):
    category: str
    detail: Any
    steps: list[StepSpec]


def read_request(graph: NavGraph, request: dict[str, Any]) -> list[PhaseSpec]:
    """The phases of an RMF ``task_request``; raises :class:`TaskRefused`."""
    category = request.get("category")
    description = request.get("description")
    if category not in CATEGORIES:
        raise TaskRefused(
            f"category {category!r} is not one a VDA 5050 fleet takes: {list(CATEGORIES)}"
        )
    if not isinstance(description, dict):
        raise TaskRefused("description must be an object")
    if category == "patrol":
        return _patrol(graph, description)
    if category == "delivery":
        return [
            _leg(graph, description.get("pickup"), "pick"),
            _leg(graph, description.get("dropoff"), "drop"),
        ]
    return _compose(graph, description)


def _place(graph: NavGraph, name: Any, role: str) -> GraphVertex:
    vertex = graph.place(name)
    if vertex is None:
        raise TaskRefused(f"{role}: {name!r} is not a place of the fleet's navigation graph")
    return vertex


def _go(graph: NavGraph, name: Any, role: str) -> PhaseSpec:
    vertex = _place(graph, name, role)
    return PhaseSpec(
        category="Go to place",
        detail={"place": vertex.id},
        steps=[StepSpec(kind="go", place=vertex.id)],
    )


def _patrol(graph: NavGraph, description: dict[str, Any]) -> list[PhaseSpec]:
    places = description.get("places")
    rounds = description.get("rounds", 1)
    if not isinstance(places, list) or not places:
        raise TaskRefused("patrol: description.places must be a non-empty list")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= MAX_ROUNDS:
        raise TaskRefused(f"patrol: description.rounds must be an integer from 1 to {MAX_ROUNDS}")
    return [_go(graph, name, "patrol") for _ in range(rounds) for name in places]


def _leg(graph: NavGraph, leg: Any, action: str) -> PhaseSpec:
    role = "pickup" if action == "pick" else "dropoff"
    if not isinstance(leg, dict):
        raise TaskRefused(f"delivery: description.{role} must be an object")
    vertex = _place(graph, leg.get("place"), f"delivery {role}")
    handler = leg.get("handler") or (vertex.dispenser if action == "pick" else vertex.ingestor)
    payload = leg.get("payload", [])
    if not isinstance(payload, list):
        raise TaskRefused(f"delivery {role}: payload must be a list")
    return PhaseSpec(
        category="Pick Up" if action == "pick" else "Drop Off",
        detail={"location": vertex.id, "handler": handler, "payload": payload},
        steps=[
            StepSpec(kind="go", place=vertex.id),
            StepSpec(kind=action, place=vertex.id, handler=str(handler or ""), payload=payload),
        ],
    )


def _compose(graph: NavGraph, description: dict[str, Any]) -> list[PhaseSpec]:
    phases = description.get("phases")
    if not isinstance(phases, list) or not phases:
        raise TaskRefused("compose: description.phases must be a non-empty list")
    out: list[PhaseSpec] = []
    for index, phase in enumerate(phases):
        activity = phase.get("activity") if isinstance(phase, dict) else None
        steps = _activity(graph, activity, f"compose phase {index}")
        if not steps:
            raise TaskRefused(f"compose phase {index}: no activity to perform")
        out.append(
            PhaseSpec(
                category=str(description.get("category") or "compose"), detail=phase, steps=steps
            )
        )
    return out


def _activity(graph: NavGraph, activity: Any, role: str) -> list[StepSpec]:
    if not isinstance(activity, dict):
        raise TaskRefused(f"{role}: an activity must be an object")
    category = activity.get("category")
    description = activity.get("description")
    if category == "sequence":
        inner = description.get("activities") if isinstance(description, dict) else description
        if not isinstance(inner, list):
            raise TaskRefused(f"{role}: a sequence needs a list of activities")
        return [step for item in inner for step in _activity(graph, item, role)]
    if category == "go_to_place":
        return [StepSpec(kind="go", place=_waypoint(graph, description, role).id)]
    if category in ("pickup", "dropoff"):
        phase = _leg(graph, description, "pick" if category == "pickup" else "drop")
        return phase.steps
    raise TaskRefused(
        f"{role}: activity {category!r} is not one a VDA 5050 fleet performs "
        "(sequence, go_to_place, pickup, dropoff)"
    )


def _waypoint(graph: NavGraph, description: Any, role: str) -> GraphVertex:
    if isinstance(description, dict) and isinstance(description.get("one_of"), list):
        options = description["one_of"]
        if not options:
            raise TaskRefused(f"{role}: one_of is empty")
        description = options[0]
    if isinstance(description, dict):
        description = description.get("waypoint")
    return _place(graph, description, role)
