"""A task's rooms leave the live bus once quiet, and are still answered from the database.

Each test runs the embedded system (SQLite and the in-process bus, or
PostgreSQL and Redis) with a short ``retire_after_s``, and waits for the
room's row to be marked retired rather than for a time.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.bus.base import Bus
from fleetcore.contract.ingest import IngestType, decode, encode
from fleetcore.contract.rooms import FLEET_STATE, TASK_STATE
from fleetcore.settings import Settings
from fleetcore.store import models
from hub.service import Hub
from rest_api.keys import BUS_KEY
from tests.conftest import eventually, start_embedded
from tests.helpers import IngestClient, Subscriber

QUIET_S = 0.3
"""How long a task's rooms stay live after their last publication, in these tests."""


def task_state(task_id: str, status: str) -> dict[str, Any]:
    return {"booking": {"id": task_id}, "category": "patrol", "status": status}


def task_log(task_id: str, text: str) -> dict[str, Any]:
    entry = {"seq": 0, "tier": "info", "unix_millis_time": time.time_ns() // 10**6, "text": text}
    return {"task_id": task_id, "log": [entry]}


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[TestServer]:
    quick = settings.replace(retire_after_s=QUIET_S, retire_interval_s=0.05)
    server = await start_embedded(quick)
    try:
        yield server
    finally:
        await server.close()


async def retired(room: str) -> bool:
    return await models.RoomState.filter(room=room, retired=True).exists()


async def finished_task(server: TestServer, task_id: str) -> None:
    """Run ``task_id`` to completion, with one log entry, and wait until its rooms are retired."""
    async with IngestClient(str(server.make_url("")).rstrip("/")) as ingest:
        await ingest.send("task_state_update", task_state(task_id, "underway"))
        await ingest.send("task_log_update", task_log(task_id, "started"))
        await ingest.send("task_state_update", task_state(task_id, "completed"))
    await eventually(lambda: retired(f"/tasks/{task_id}/state"), timeout=20)


def bus_of(server: TestServer) -> Bus:
    return server.app[BUS_KEY]


async def test_a_quiet_tasks_state_room_leaves_the_bus(server: TestServer) -> None:
    await finished_task(server, "t1")

    assert await bus_of(server).sticky_all(TASK_STATE) == []


async def test_a_retired_tasks_state_is_answered_over_rest_with_its_seq(
    server: TestServer,
) -> None:
    await finished_task(server, "t1")
    row = await models.RoomState.get(room="/tasks/t1/state")

    async with aiohttp.ClientSession() as http:
        response = await http.get(server.make_url("/tasks/t1/state"))
        state = await response.json()

    assert state["status"] == "completed"
    assert response.headers["X-Fleethub-Seq"] == str(row.seq)


async def test_a_retired_tasks_log_is_answered_over_rest(server: TestServer) -> None:
    await finished_task(server, "t1")

    async with aiohttp.ClientSession() as http:
        response = await http.get(server.make_url("/tasks/t1/log"))
        log = await response.json()

    assert [entry["text"] for entry in log["log"]] == ["started"]


async def test_subscribing_to_a_retired_tasks_state_gets_its_final_state_and_seq(
    server: TestServer,
) -> None:
    await finished_task(server, "t1")
    row = await models.RoomState.get(room="/tasks/t1/state")
    client = await Subscriber(envelopes=True).connect(str(server.make_url("")))
    try:
        assert (await client.subscribe("/tasks/t1/state"))["success"]
        await eventually(lambda: client.of("/tasks/t1/state"))
        [received] = client.of("/tasks/t1/state")
    finally:
        await client.close()

    assert received["seq"] == row.seq
    assert received["data"]["status"] == "completed"


async def test_resuming_a_retired_tasks_log_from_before_its_entries_asks_for_a_resync(
    server: TestServer,
) -> None:
    await finished_task(server, "t1")
    client = await Subscriber(envelopes=True).connect(str(server.make_url("")))
    try:
        answer = await client.subscribe("/tasks/t1/log", since=0, epoch=1)
    finally:
        await client.close()

    assert answer.get("resync") is True


@pytest.mark.usefixtures("database")
async def test_a_retired_task_published_again_is_live_again(settings: Settings, bus: Bus) -> None:
    # The hub's clock moves only when the test moves it: the room cannot retire again unseen.
    now = [1_800_000_000_000]
    quick = settings.replace(retire_after_s=60, retire_interval_s=0.05)
    hub = Hub(quick, bus, clock_ms=lambda: now[0])
    await hub.start()
    try:
        await hub.ingest(decode(encode(IngestType.TASK_STATE, task_state("t1", "completed"))))
        now[0] += 61_000
        await eventually(lambda: retired("/tasks/t1/state"))

        await hub.ingest(decode(encode(IngestType.TASK_STATE, task_state("t1", "canceled"))))
        sticky = await eventually(lambda: bus.sticky_all(TASK_STATE))
    finally:
        await hub.stop()

    assert sticky[0].data()["status"] == "canceled"
    assert not await retired("/tasks/t1/state")


@pytest.mark.usefixtures("database")
async def test_a_hub_restores_only_live_rooms(settings: Settings, bus: Bus) -> None:
    now = time.time_ns() // 10**6
    year_ago = now - 365 * 86_400_000
    rows = [
        ("/tasks/old/state", year_ago, False),
        ("/tasks/swept/state", year_ago, True),
        ("/tasks/new/state", now, False),
        ("/fleets/quiet/state", year_ago, False),
    ]
    for seq, (room, received_ms, is_retired) in enumerate(rows, start=1):
        await models.RoomState.create(
            room=room, seq=seq, epoch=1, received_ms=received_ms, data="{}", retired=is_retired
        )
    hub = Hub(settings, bus)

    await hub.start()
    try:
        tasks = [pub.room for pub in await bus.sticky_all(TASK_STATE)]
        fleets = [pub.room for pub in await bus.sticky_all(FLEET_STATE)]
    finally:
        await hub.stop()

    assert tasks == ["/tasks/new/state"]
    assert fleets == ["/fleets/quiet/state"]
