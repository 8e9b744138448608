"""A hub's derive restore over a busy site's backlog: no query takes one parameter per task.

asyncpg refuses more than 32,767 parameters in one statement (SQLite too);
a restore that put every active task's id into one ``IN (...)`` died on
50,000 queued tasks and left the hub standing by without a word.
"""

from __future__ import annotations

import orjson
import pytest

from fleetcore.store import models
from hub.derive_restore import load_snapshot

ACTIVE_TASKS = 100_000


@pytest.mark.usefixtures("database")
async def test_restore_over_100000_active_tasks_tracks_each_and_its_delay() -> None:
    data = orjson.dumps({"booking": {"id": "x"}, "status": "queued"}).decode()
    await models.TaskState.bulk_create(
        [
            models.TaskState(id=f"t{n}", status="queued", data=data, seq=n)
            for n in range(ACTIVE_TASKS)
        ],
        batch_size=5000,
    )
    await models.DerivedEvent.create(
        seq=ACTIVE_TASKS,
        kind="task_delayed",
        severity="warning",
        task_id="t7",
        unix_millis_time=1,
        data="{}",
    )

    snapshot = await load_snapshot(start_ms=1_000, escalation_window_ms=1)

    assert len(snapshot.tasks) == ACTIVE_TASKS
    assert [task_id for task_id, task in snapshot.tasks.items() if task.delayed] == ["t7"]
