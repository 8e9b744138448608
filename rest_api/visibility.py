"""The visibility rules applied to REST reads: fleet state bytes, database rows and queries.

The rules themselves are :mod:`fleetcore.auth.visibility` (the socket.io
rooms apply the same ones); here they meet the store. Fleet states are cut
down to the robots the user may read, tasks and alerts are judged by their
rows, and list reads filter in the query. Admins skip every filter, so
their reads stay byte-for-byte the hub's encoded JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from tortoise.expressions import Q

from fleetcore.auth import Permission, Principal
from fleetcore.auth.visibility import (
    TaskConcern,
    alert_concern,
    fleet_log_of,
    holds_on,
    may_read_concern,
    may_read_task,
    only_robots,
    readable_robots,
    task_concern,
    task_concern_of,
)
from fleetcore.store import models as db


def fleet_state_view(principal: Principal, data_json: bytes) -> bytes | None:
    """The fleet state with only the robots ``principal`` may read; None: none, so no fleet."""
    if principal.is_admin:
        return data_json
    state = orjson.loads(data_json)
    readable = readable_robots(principal, str(state.get("name", "")))
    if readable is None:
        return data_json
    robots = state.get("robots") or {}
    kept = only_robots(robots, readable)
    if not kept:
        return None
    if len(kept) == len(robots):
        return data_json
    return orjson.dumps({**state, "robots": kept})


def fleet_log_view(principal: Principal, data_json: bytes) -> bytes | None:
    """A fleet log update with the entries of robots ``principal`` may read; None: none of them."""
    update = orjson.loads(data_json)
    readable = readable_robots(principal, str(update.get("name", "")))
    if readable is None:
        return data_json
    shown = fleet_log_of(update, readable)
    return None if shown is None else orjson.dumps(shown)


def task_filter(principal: Principal) -> Q | None:
    """The tasks ``principal`` may read, as a query filter on TaskState (None: all).

    The query form of :func:`~fleetcore.auth.visibility.may_read_task`.
    """
    if principal.is_admin:
        return None
    scope = principal.scope(Permission.task_read)
    visible = Q(assigned_to__isnull=True, requester=principal.username)
    if scope.fleets:
        visible |= Q(assigned_group__in=sorted(scope.fleets), assigned_to__isnull=False)
    for fleet, robot in sorted(scope.robots):
        visible |= Q(assigned_group=fleet, assigned_to=robot)
    return visible


def task_state_view(principal: Principal, data_json: bytes) -> bytes | None:
    """An RMF TaskState (its JSON) if the principal may read it, else None."""
    if principal.is_admin or may_read_task(principal, task_concern(orjson.loads(data_json))):
        return data_json
    return None


async def task_row(task_id: str) -> TaskConcern | None:
    """What decides who sees the task, from its row; None: the store has no such task."""
    row = await db.TaskState.get_or_none(id=task_id)
    if row is None:
        return None
    return task_concern_of(row.assigned_group, row.assigned_to, row.requester)


async def task_row_visible(principal: Principal, task_id: str) -> bool:
    """Whether the task is known and visible (admins see even tasks only the bus knows)."""
    if principal.is_admin:
        return True
    task = await task_row(task_id)
    return task is not None and may_read_task(principal, task)


def event_filter(principal: Principal) -> Q | None:
    """Derived events about robots (or whole fleets) ``principal`` may read (None: all)."""
    if principal.is_admin:
        return None
    scope = principal.scope(Permission.robot_read)
    visible = Q(id__in=[])
    if scope.fleets:
        visible |= Q(fleet__in=sorted(scope.fleets))
    for fleet, robot in sorted(scope.robots):
        visible |= Q(fleet=fleet, robot=robot)
    return visible


async def alert_visible(
    principal: Principal, data: dict[str, Any], permission: Permission | None = None
) -> bool:
    """Visible by the robot or fleet it concerns, or by its task's row.

    With ``permission``, whether the user also holds it on that robot, fleet or task's robot.
    """
    if principal.is_admin:
        return True
    concern = alert_concern(data)
    task = None
    if concern.fleet is None and concern.task_id is not None:
        task = await task_row(concern.task_id)
    if not may_read_concern(principal, concern, task):
        return False
    return permission is None or holds_on(principal, permission, concern, task)


async def visible_alerts(principal: Principal, rows: Iterable[str]) -> list[bytes]:
    """The encoded alerts of ``rows`` (their JSON) that ``principal`` may see, in order."""
    kept: list[bytes] = []
    for row in rows:
        if await alert_visible(principal, orjson.loads(row)):
            kept.append(row.encode())
    return kept
