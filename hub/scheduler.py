"""Scheduled tasks, fired by the leading hub: each occurrence dispatched once, across restarts.

rest_api stores the schedules (operator data); only the leader fires them,
so a scale-out deployment with several API processes never dispatches an
occurrence once per process, as rmf-web's in-process scheduler would.

Each occurrence becomes a dispatch command whose idempotency key names the
scheduled task and the occurrence's time. The executor records that key in
the transaction that checks the hub's epoch, before sending anything: an
occurrence fired by a hub that then died, by a standby that took over, or
seen again on the next tick is recorded already and acts no more. An
occurrence missed while no hub led is still fired if it is at most
``grace_s`` old; older ones are left (a late "every minute" patrol should
not come in a burst).

An occurrence is fired on its owner's behalf, with what they may do when it
is due: one whose owner may no longer dispatch to its fleet (a revoked
grant, a deleted user) is refused instead, logged, counted and recorded in
the audit log under its key, which also keeps it from being refused again
on the next tick.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from pydantic import TypeAdapter, ValidationError

from fleetcore import metrics
from fleetcore.auth import Principal, users
from fleetcore.auth.dispatching import may_dispatch
from fleetcore.contract.commands import RESERVED_KEY_PREFIX, Command, CommandKind
from fleetcore.contract.schedules import Schedule, day_of
from fleetcore.log import hub_logger
from fleetcore.store import models
from hub.commands import CommandExecutor
from hub.leader import PeriodicRole
from hub.service import wall_clock_ms

_SCHEDULES = TypeAdapter(list[Schedule])
REFUSED_ACTION = "fire_scheduled_task"
"""The audit action of an occurrence refused because its owner may no longer dispatch it."""


def occurrence_key(task_id: int, at_ms: int) -> str:
    """The idempotency key of one occurrence: the same on every hub, for ever."""
    return f"{RESERVED_KEY_PREFIX}schedule/{task_id}/{at_ms}"


class TaskScheduler(PeriodicRole):
    """A leader role: looks every ``tick_s`` for occurrences due and dispatches them."""

    name = "task scheduler"

    def __init__(
        self,
        executor: CommandExecutor,
        *,
        authorize: bool = True,
        tick_s: float = 1.0,
        grace_s: float = 60.0,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        """:param authorize: fire an occurrence only while its owner may dispatch it; False only
        with ``auth_mode`` off, where every user is an admin and none is in the store."""
        super().__init__(tick_s)
        self._executor = executor
        self._authorize = authorize
        self._grace_ms = int(grace_s * 1000)
        self._clock_ms = clock_ms

    async def step(self) -> None:
        await self.fire_due()

    async def fire_due(self) -> int:
        """Dispatch every occurrence due within the grace window and not recorded; returns how many."""
        now = self._clock_ms()
        fired = 0
        owners: dict[str, Principal | None] = {}
        for task in await models.ScheduledTask.all().order_by("id"):
            for at_ms in _due(task, now - self._grace_ms, now):
                key = occurrence_key(task.id, at_ms)
                if await models.CommandRecord.filter(key=key).exists():
                    continue
                if self._authorize and not await _owner_may_dispatch(task, key, owners, now):
                    continue
                await self._executor.handle([_dispatch(task, key, at_ms)])
                await models.ScheduledTask.filter(id=task.id).update(last_ran_ms=at_ms)
                metrics.SCHEDULED_OCCURRENCES.labels("dispatched").inc()
                fired += 1
        return fired


async def _owner_may_dispatch(
    task: models.ScheduledTask, key: str, owners: dict[str, Principal | None], now_ms: int
) -> bool:
    """Whether the occurrence ``key`` may fire as its owner; a refusal is recorded once."""
    if await models.AuditEntry.filter(action=REFUSED_ACTION, target=key).exists():
        return False
    if task.created_by not in owners:
        owners[task.created_by] = await users.load_principal(task.created_by)
    owner = owners[task.created_by]
    request = orjson.loads(task.task_request)
    if owner is not None and may_dispatch(owner, request):
        return True
    reason = "is no longer a user" if owner is None else "may no longer dispatch to its fleet"
    detail = {"scheduled_task": task.id, "reason": f"its owner {reason}", "request": request}
    await models.AuditEntry.create(
        unix_millis_time=now_ms,
        username=task.created_by,
        action=REFUSED_ACTION,
        target=key,
        detail=orjson.dumps(detail).decode(),
        status=403,
    )
    metrics.SCHEDULED_OCCURRENCES.labels("refused").inc()
    hub_logger.warning(
        "scheduled task %d not fired (%s): its owner %r %s",
        task.id,
        key,
        task.created_by,
        reason,
    )
    return False


def _due(task: models.ScheduledTask, after_ms: int, until_ms: int) -> list[int]:
    """The task's occurrences in ``(after_ms, until_ms]``, within its window (``start_from``,
    ``until``; rmf-web skips the runs outside it), except on its except dates."""
    try:
        schedules = _SCHEDULES.validate_json(task.schedules)
    except ValidationError:
        hub_logger.error("scheduled task %d has unreadable schedules; skipped", task.id)
        return []
    skipped = set(orjson.loads(task.except_dates))
    after_ms = max(after_ms, task.created_ms - 1, (task.start_from_ms or 0) - 1)
    if task.until_ms is not None:
        until_ms = min(until_ms, task.until_ms)
    times = {t for s in schedules for t in s.occurrences(task.created_ms, after_ms, until_ms)}
    return sorted(t for t in times if day_of(t) not in skipped)


def _dispatch(task: models.ScheduledTask, key: str, at_ms: int) -> Command:
    body = {"type": "dispatch_task_request", "request": orjson.loads(task.task_request)}
    return Command(key, CommandKind.DISPATCH_TASK.value, body, task.created_by, at_ms)
