"""Which fleets, robots, tasks, alerts and events a principal may see: the rules, once.

The socket.io proxy applies them per room and per publication
(:mod:`proxy.access`), the REST readers per row and per query
(:mod:`rest_api.visibility`); each keeps only how it finds the objects (the
proxy from sticky values and what it learned from publications, the REST
readers from database rows). So a room and the REST GET of the same path
cannot disagree about who sees what:

- a fleet's state and log show the robots the user reads (``robot_read`` on
  the robot or on its whole fleet); a fleet none of whose robots they read
  does not exist for them;
- a task is readable with ``task_read`` on the robot it is assigned to;
  unassigned, only by whoever requested it. A user who sees the robot but
  lacks ``task_read`` is refused, not told the task does not exist;
- an alert or a derived event follows what it concerns: its robot
  (``robot_read``; the whole fleet for a fleet-wide one), else the task it
  names; anything else is for admins.

Admins see everything. Every function here is pure: what an object concerns
is read from RMF's JSON (or a row's columns) by the caller and passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fleetcore.auth.permissions import Permission, Principal

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class TaskConcern:
    """Who may see a task: readers of its assigned robot; while unassigned, its requester only."""

    robot: tuple[str, str] | None
    """(fleet, robot) from ``assigned_to`` (group, name)."""
    requester: str | None


@dataclass(frozen=True, slots=True)
class Concern:
    """What an alert or a derived event is about; every field may be missing."""

    task_id: str | None = None
    fleet: str | None = None
    robot: str | None = None


NOTHING = Concern()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def task_concern_of(group: Any, name: Any, requester: Any) -> TaskConcern:
    """From an assignment's group and robot name and a requester (JSON values or row columns)."""
    fleet, robot = _text(group), _text(name)
    return TaskConcern(
        (fleet, robot) if fleet is not None and robot is not None else None, _text(requester)
    )


def task_concern(data: Any) -> TaskConcern:
    """From an RMF TaskState (``assigned_to`` {group, name}, ``booking.requester``)."""
    if not isinstance(data, dict):
        return TaskConcern(None, None)
    assigned = data.get("assigned_to")
    booking = data.get("booking")
    return task_concern_of(
        assigned.get("group") if isinstance(assigned, dict) else None,
        assigned.get("name") if isinstance(assigned, dict) else None,
        booking.get("requester") if isinstance(booking, dict) else None,
    )


def alert_concern(data: Any) -> Concern:
    """From an rmf-web AlertRequest: its task, and the fleet/robot of derived alerts' parameters."""
    if not isinstance(data, dict):
        return NOTHING
    params: dict[str, str] = {}
    for param in data.get("alert_parameters") or ():
        if isinstance(param, dict) and isinstance(param.get("name"), str):
            params[param["name"]] = str(param.get("value", ""))
    return Concern(
        _text(data.get("task_id")), _text(params.get("fleet")), _text(params.get("robot"))
    )


def event_concern(data: Any) -> Concern:
    """From a derived event ``{kind, fleet, robot, task_id, ...}``."""
    if not isinstance(data, dict):
        return NOTHING
    return Concern(_text(data.get("task_id")), _text(data.get("fleet")), _text(data.get("robot")))


def readable_robots(principal: Principal, fleet: str) -> frozenset[str] | None:
    """The robots of ``fleet`` the principal reads: None for the whole fleet, empty for none."""
    if principal.is_admin:
        return None
    scope = principal.scope(Permission.robot_read)
    if fleet in scope.fleets:
        return None
    return frozenset(robot for f, robot in scope.robots if f == fleet)


def reads_fleet(principal: Principal, fleet: str) -> bool:
    """Whether the fleet exists for the principal: they read it whole or some robot of it."""
    return readable_robots(principal, fleet) != frozenset()


def only_robots(by_robot: Mapping[str, V], robots: frozenset[str]) -> dict[str, V]:
    """A fleet state's or log's per-robot entries, cut down to ``robots``."""
    return {name: value for name, value in by_robot.items() if name in robots}


def fleet_log_of(update: Mapping[str, Any], robots: frozenset[str]) -> dict[str, Any] | None:
    """A fleet log update with only ``robots``' entries; None: none of theirs.

    Fleet-level entries need the whole fleet, so a cut-down update carries
    none, as ``/fleets/{name}/log`` shows them. One rule for the socket.io
    rooms and GraphQL's subscription.
    """
    kept = only_robots(update.get("robots") or {}, robots)
    return {"name": update.get("name"), "robots": kept} if kept else None


def may_read_task(principal: Principal, task: TaskConcern) -> bool:
    if task.robot is not None:
        return principal.can_robot(Permission.task_read, *task.robot)
    return principal.is_admin or (
        task.requester is not None and task.requester == principal.username
    )


def sees_task(principal: Principal, task: TaskConcern) -> bool:
    """Whether the task is of the user's groups at all (else it is not said to exist)."""
    if task.robot is not None:
        return principal.sees_robot(*task.robot)
    return may_read_task(principal, task)


def holds_on(
    principal: Principal, permission: Permission, concern: Concern, task: TaskConcern | None
) -> bool:
    """``permission`` on what an alert or event concerns: its robot, its fleet, or its task's robot.

    ``task`` is the concern's task as the caller found it (None: unknown). A
    task not assigned to any robot needs the permission on anything at all.
    """
    if concern.fleet is not None:
        if concern.robot is not None:
            return principal.can_robot(permission, concern.fleet, concern.robot)
        return principal.can_fleet(permission, concern.fleet)
    if task is not None:
        if task.robot is not None:
            return principal.can_robot(permission, *task.robot)
        return principal.holds(permission)
    return principal.is_admin


def may_read_concern(principal: Principal, concern: Concern, task: TaskConcern | None) -> bool:
    """Whether an alert or derived event is shown: by its robot or fleet, else by its task."""
    if concern.fleet is not None:
        return holds_on(principal, Permission.robot_read, concern, None)
    if concern.task_id is not None:
        return task is not None and may_read_task(principal, task)
    return principal.is_admin


__all__ = [
    "NOTHING",
    "Concern",
    "TaskConcern",
    "alert_concern",
    "event_concern",
    "fleet_log_of",
    "holds_on",
    "may_read_concern",
    "may_read_task",
    "only_robots",
    "readable_robots",
    "reads_fleet",
    "sees_task",
    "task_concern",
    "task_concern_of",
]
