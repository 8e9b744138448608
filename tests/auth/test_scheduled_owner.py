"""A scheduled task fires with its owner's grants as they are when it is due.

Its owner was allowed to dispatch to the fleet when the schedule was made;
if the grant is revoked or the user deleted later, the hub refuses the next
occurrences instead of dispatching them for someone who may no longer:
refused once per occurrence, in the audit log, logged and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import cast

import orjson
import pytest
from prometheus_client import REGISTRY

from fleetcore.auth import AUTH_OFF_USER, users
from fleetcore.contract.commands import Command
from fleetcore.store import models as db
from hub.commands import CommandExecutor
from hub.scheduler import REFUSED_ACTION, TaskScheduler, occurrence_key

CREATED = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1000)
DUE = CREATED + 10 * 3_600_000
"""10:00 on the day the task was made: its first occurrence."""
FLEET = "alpha_fleet"


class Executor:
    """Takes the commands the scheduler fires, and nothing else."""

    def __init__(self) -> None:
        self.handled: list[Command] = []

    async def handle(self, commands: list[Command]) -> None:
        self.handled.extend(commands)


@pytest.fixture
async def store(database: None) -> None:
    """``ann`` may submit tasks to alpha_fleet (role ``dispatcher``)."""
    await users.create_group("alpha")
    await users.add_member("alpha", "fleet", FLEET)
    await users.create_role("dispatcher")
    await users.grant("dispatcher", "task_submit", "alpha")
    await users.create_user("ann")
    await users.set_user_roles("ann", ["dispatcher"])


async def _schedule(owner: str) -> int:
    row = await db.ScheduledTask.create(
        task_request=orjson.dumps({"category": "patrol", "fleet_name": FLEET}).decode(),
        schedules=orjson.dumps([{"period": "day", "at": "10:00"}]).decode(),
        except_dates="[]",
        created_by=owner,
        created_ms=CREATED,
    )
    return row.id


def _scheduler(executor: Executor, *, authorize: bool = True) -> TaskScheduler:
    return TaskScheduler(
        cast(CommandExecutor, executor), authorize=authorize, clock_ms=lambda: DUE + 500
    )


def _refused() -> float:
    value = REGISTRY.get_sample_value(
        "fleethub_scheduled_occurrences_total", {"outcome": "refused"}
    )
    return value or 0.0


async def test_an_owner_who_may_dispatch_has_the_occurrence_fired(store: None) -> None:
    task_id = await _schedule("ann")
    executor = Executor()

    assert await _scheduler(executor).fire_due() == 1

    assert [(c.key, c.requester) for c in executor.handled] == [
        (occurrence_key(task_id, DUE), "ann")
    ]
    assert not await db.AuditEntry.filter(action=REFUSED_ACTION).exists()


@pytest.mark.parametrize(
    ("lose_permission", "reason"),
    [
        (lambda: users.revoke("dispatcher", "task_submit", "alpha"), "may no longer dispatch"),
        (lambda: users.delete_user("ann"), "is no longer a user"),
    ],
    ids=["grant_revoked", "user_deleted"],
)
async def test_an_owner_who_lost_permission_has_the_occurrence_refused_once(
    store: None,
    lose_permission: Callable[[], Awaitable[None]],
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    task_id = await _schedule("ann")
    await lose_permission()
    executor = Executor()
    scheduler = _scheduler(executor)
    before = _refused()

    with caplog.at_level(logging.WARNING, logger="fleethub.hub"):
        assert await scheduler.fire_due() == 0
        assert await scheduler.fire_due() == 0  # the next tick: refused already, not again

    assert executor.handled == []
    entry = await db.AuditEntry.get(action=REFUSED_ACTION)
    assert (entry.username, entry.target, entry.status) == (
        "ann",
        occurrence_key(task_id, DUE),
        403,
    )
    assert reason in orjson.loads(entry.detail)["reason"]
    assert _refused() == before + 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"scheduled task {task_id} not fired" in warnings[0]


async def test_with_auth_off_no_owner_is_looked_up(store: None) -> None:
    """Everyone is the admin ``admin`` then (rmf-web's stub user), looked up in no store."""
    await _schedule(AUTH_OFF_USER)
    executor = Executor()

    assert await _scheduler(executor, authorize=False).fire_due() == 1
    assert await _scheduler(Executor()).fire_due() == 0
