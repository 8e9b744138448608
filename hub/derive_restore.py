"""Rebuilding derivation state from the database when a hub starts.

What the database remembers exactly: each robot's last connectivity, open
derived alerts (which also say which robots are in error, stuck or low on
battery), active and recently finished tasks, recent failures per fleet and
the tasks already reassigned. What it cannot remember (when each robot was
last heard) is rebuilt conservatively: every robot counts as seen at start,
and the grace period holds stale and offline back.
"""

from __future__ import annotations

import orjson
from tortoise.expressions import Subquery

from fleetcore.contract.rmf.task import TERMINAL_STATUSES
from fleetcore.store import models
from hub.derive.connectivity import Link
from hub.derive.deriver import Snapshot
from hub.derive.health import Battery, RobotHealth
from hub.derive.reassign import REASSIGN_KEY_PREFIX
from hub.derive.tasks import ACTIVE_STATUSES, FINISHED_KEPT, TrackedTask

FAILURE_KINDS = ("robot_offline", "robot_error", "task_failed")


async def load_snapshot(start_ms: int, escalation_window_ms: int) -> Snapshot:
    snapshot = Snapshot(start_ms=start_ms)
    for link in await models.RobotLinkState.all():
        snapshot.links[(link.fleet, link.robot)] = Link(link.state)
    resolved = Subquery(models.AlertResolution.all().values("id"))
    for alert_id, condition in (
        await models.AlertRequest.filter(condition__isnull=False)
        .exclude(id__in=resolved)
        .values_list("id", "condition")
    ):
        snapshot.open_alerts[condition] = alert_id
        _apply_condition(snapshot, condition)
    await _load_tasks(snapshot, start_ms)
    since = start_ms - escalation_window_ms
    for fleet, time_ms in await models.DerivedEvent.filter(
        kind__in=FAILURE_KINDS, unix_millis_time__gt=since, fleet__isnull=False
    ).values_list("fleet", "unix_millis_time"):
        snapshot.failures.setdefault(fleet, []).append(time_ms)
    commands = await models.HubCommand.filter(key__startswith=REASSIGN_KEY_PREFIX).values("task_id")
    snapshot.reassigned = {row["task_id"] for row in commands if row["task_id"]}
    return snapshot


def _apply_condition(snapshot: Snapshot, condition: str) -> None:
    kind, _, rest = condition.partition("/")
    fleet, _, robot = rest.partition("/")
    if not robot:
        return
    health = snapshot.health.setdefault((fleet, robot), RobotHealth())
    if kind == "robot_error":
        health.error = True
    elif kind == "robot_stuck":
        health.stuck = health.working = True
    elif kind == "battery_low" and health.battery is Battery.NORMAL:
        health.battery = Battery.LOW
    elif kind == "battery_critical":
        health.battery = Battery.CRITICAL


async def _load_tasks(snapshot: Snapshot, start_ms: int) -> None:
    active = models.TaskState.filter(status__in=list(ACTIVE_STATUSES | {"queued"}))
    rows = await active.values_list("id", "status", "assigned_group", "assigned_to", "data")
    # A join, not one parameter per task: asyncpg refuses more than 32,767 (a busy site's backlog).
    delayed = set(
        await models.DerivedEvent.filter(
            kind="task_delayed", task_id__in=Subquery(active.values("id"))
        ).values_list("task_id", flat=True)
    )
    for task_id, status, fleet, robot, data in rows:
        state = orjson.loads(data)
        estimate = state.get("original_estimate_millis") or state.get("estimate_millis")
        snapshot.tasks[task_id] = TrackedTask(
            status=status,
            since_ms=start_ms,
            first_seen_ms=start_ms,
            updated_ms=start_ms,
            fleet=fleet,
            robot=robot,
            estimate_ms=estimate,
            labels=tuple(state.get("booking", {}).get("labels") or ()),
            category=state.get("category"),
            description=state["detail"] if isinstance(state.get("detail"), dict) else None,
            delayed=task_id in delayed,
            stale=f"task_stale/{task_id}" in snapshot.open_alerts,
        )
    finished = (
        await models.TaskState.filter(status__in=list(TERMINAL_STATUSES))
        .order_by("-seq")
        .limit(FINISHED_KEPT)
        .values("id")
    )
    snapshot.finished_tasks = [row["id"] for row in reversed(finished)]
