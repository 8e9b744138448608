"""A hub restart keeps history, restores sticky state and never reuses a seq."""

from __future__ import annotations

from typing import cast

from fleetcore.settings import Settings
from fleetcore.store import models
from tests.conftest import eventually, start_embedded
from tests.helpers import IngestClient, Subscriber


def task_state(task_id: str, status: str) -> dict[str, object]:
    return {"booking": {"id": task_id, "labels": ["demo"]}, "category": "patrol", "status": status}


async def test_restart_restores_sticky_state_keeps_history_and_continues_seq(
    settings: Settings,
) -> None:
    server = await start_embedded(settings)
    base = str(server.make_url("")).rstrip("/")
    watcher = await Subscriber(envelopes=True).connect(base)
    await watcher.subscribe("/tasks/t1/state")
    async with IngestClient(base) as ingest:
        for status in ("queued", "underway", "completed"):
            await ingest.send("task_state_update", task_state("t1", status))
        await eventually(lambda: len(watcher.of("/tasks/t1/state")) == 3)
    before = watcher.of("/tasks/t1/state")
    await watcher.close()
    await server.close()

    server = await start_embedded(settings)
    base = str(server.make_url("")).rstrip("/")
    try:
        client = await Subscriber(envelopes=True).connect(base)
        await client.subscribe("/tasks/t1/state")
        await eventually(lambda: client.of("/tasks/t1/state"))
        restored = client.of("/tasks/t1/state")[0]
        assert restored["seq"] == before[-1]["seq"]
        assert restored["data"]["status"] == "completed"
        history = cast(
            "list[str]",
            await models.TaskStateHistory.filter(task_id="t1")
            .order_by("seq")
            .values_list("status", flat=True),
        )
        assert history == ["queued", "underway", "completed"]
        async with IngestClient(base) as ingest:
            await ingest.send("task_state_update", task_state("t2", "queued"))
        await client.subscribe("/tasks/t2/state")
        await eventually(lambda: client.of("/tasks/t2/state"))
        after = client.of("/tasks/t2/state")[0]
        # before[-1]["seq"] + 1 is the task_completed event the hub derived on /events.
        assert after["seq"] == before[-1]["seq"] + 2
        assert after["epoch"] == before[-1]["epoch"] + 1
        await client.close()
    finally:
        await server.close()
