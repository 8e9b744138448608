"""Failure and recovery through a real broker and the hub: nothing is lost, nothing is done twice.

Vehicle ``lost1`` (a simulated vehicle on an MQTT connection of its own)
drops mid-task, or stops with a ``FATAL`` error: the master control leaves it out of its fleet's state, the
hub derives it offline and its reassignment policy cancels the task and
dispatches it again, once; another vehicle completes it. The master control
is also SIGKILLed (a real ``fleethub vda5050`` process) while orders run,
and right after a vehicle dropped: every task completes, the reassignment
happens once, and a spy on the broker's ``order`` topics sees no order
(``orderId`` + ``orderUpdateId``) twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fleetcore.aio import cancel_and_wait
from fleetcore.contract.vda5050 import Topics
from fleetcore.settings import Settings
from simulator.building import sample_site
from simulator.vehicles import SimFleet, SimFleetConfig, VehicleProfile
from tests.conftest import eventually, start_embedded
from tests.helpers import TEST_SITE_TOKEN
from tests.processes import Process, fleethub, wait_http
from tests.vda5050.conftest import Mosquitto, running
from tests.vda5050.loopback import graph, patrol
from tests.vda5050.test_end_to_end import FLEET, vda_site
from tests.vda5050.test_restart import OrderSpy
from vda5050.service import mqtt_config

pytestmark = pytest.mark.integration

LOST = "lost1"
FAST = {
    "derive_stale_s": 0.5,
    "derive_offline_s": 1.0,
    "derive_restart_grace_s": 0.0,
    "derive_tick_ms": 100,
}
"""The hub's thresholds, short so a dropped vehicle is offline within a second or so."""
STATE_TIMEOUT_S = 5.0
"""A vehicle whose OFFLINE got lost is taken for gone after this long of silence all the same."""


def _lost_vehicle(settings: Settings, url: str) -> SimFleet:
    """``lost1``, standing on ``parking_2`` (a spot of its own), slow enough to drop mid-task."""
    fleet = SimFleet(
        sample_site(),
        mqtt_config(settings, url),
        Topics(),
        SimFleetConfig(
            count=1, serial_prefix="lost", rate_hz=5.0, profile=VehicleProfile(speed_mps=4.0)
        ),
    )
    spot = graph().vertices["parking_2"]
    vehicle = fleet.clients[LOST].vehicle
    vehicle.x, vehicle.y = spot.x, spot.y
    vehicle.node_id = vehicle.last_node_id = spot.id
    return fleet


async def _get(http: aiohttp.ClientSession, path: str, **params: str) -> Any:
    async with http.get(path, params=params) as answer:
        return await answer.json() if answer.status == 200 else None


async def _robot_task(http: aiohttp.ClientSession, robot: str) -> str:
    body = {
        "type": "robot_task_request",
        "robot": robot,
        "fleet": FLEET,
        "request": patrol("room_101", "lobby"),
    }
    async with http.post("/tasks/robot_task", json=body) as answer:
        assert answer.status == 200, await answer.text()
        return str((await answer.json())["state"]["booking"]["id"])


async def _redispatched(http: aiohttp.ClientSession, task_id: str) -> dict[str, Any]:
    """The task dispatched again for ``task_id`` (once there is one)."""

    async def found() -> list[dict[str, Any]]:
        return await _get(http, "/tasks", label=f"reassigned_from={task_id}") or []

    tasks = await eventually(found, timeout=30)
    assert len(tasks) == 1, tasks
    again: dict[str, Any] = tasks[0]
    return again


async def _status(http: aiohttp.ClientSession, task_id: str) -> str:
    state = await _get(http, f"/tasks/{task_id}/state")
    return str(state.get("status")) if state else ""


def _no_order_twice(spy: OrderSpy) -> None:
    sent = Counter((o["orderId"], o["orderUpdateId"]) for o in spy.orders)
    assert sent and all(count == 1 for count in sent.values()), sent


async def _drive_until_mid_task(lost: SimFleet, task_id: str) -> None:
    vehicle = lost.clients[LOST].vehicle
    await eventually(
        lambda: vehicle.order_id == task_id and vehicle.last_node_sequence_id >= 2, timeout=30
    )


async def test_a_robot_dropped_mid_task_has_its_task_completed_by_another_robot_once(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    spy = OrderSpy()
    async with (
        vda_site(
            settings.replace(derive_reassign=True, vda5050_state_timeout_s=STATE_TIMEOUT_S),
            mosquitto.url,
            vehicles=2,
        ) as site,
        running(asyncio.create_task(spy.run(mosquitto.url))),
    ):
        lost = _lost_vehicle(site.settings, mosquitto.url)
        drive = asyncio.create_task(lost.run())
        try:

            async def shown() -> bool:
                return LOST in await site.robots()

            await eventually(shown, timeout=20)
            task_id = await _robot_task(site.http, LOST)
            await _drive_until_mid_task(lost, task_id)
        finally:
            await cancel_and_wait(drive, grace_s=5.0)  # it says OFFLINE and disconnects

        again = await _redispatched(site.http, task_id)
        # The vanished vehicle may stand on the way: an operator who looked clears it.
        assert site.service.master.clear_reservations(FLEET, LOST).ok
        new_id = again["booking"]["id"]

        async def completed() -> bool:
            return await _status(site.http, new_id) == "completed"

        await eventually(completed, timeout=60)
        assert await _status(site.http, task_id) == "canceled"
        done = await _get(site.http, "/tasks", status="completed")
        assert [t["booking"]["id"] for t in done] == [new_id], "completed once, by one task"
        assert (await _get(site.http, f"/tasks/{new_id}/state"))["assigned_to"]["name"] != LOST
        assert len(await _get(site.http, "/events", kind="task_reassigned")) == 1
        assert {o["orderId"] for o in spy.orders if o["serialNumber"] == LOST} == {task_id}
        assert {o["orderId"] for o in spy.orders if o["serialNumber"] != LOST} == {new_id}
        _no_order_twice(spy)


async def test_a_robot_in_fatal_error_mid_task_has_its_task_completed_by_another_robot_once(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    spy = OrderSpy()
    async with (
        vda_site(settings.replace(derive_reassign=True), mosquitto.url, vehicles=2) as site,
        running(asyncio.create_task(spy.run(mosquitto.url))),
    ):
        lost = _lost_vehicle(site.settings, mosquitto.url)
        async with running(asyncio.create_task(lost.run())):

            async def shown() -> bool:
                return LOST in await site.robots()

            await eventually(shown, timeout=20)
            task_id = await _robot_task(site.http, LOST)
            await _drive_until_mid_task(lost, task_id)
            vehicle = lost.clients[LOST].vehicle
            vehicle.inject_error("laserScanner", "FATAL", "contaminated")

            again = await _redispatched(site.http, task_id)
            assert await _status(site.http, task_id) == "canceled"
            # An operator fixes it: standing idle, it moves aside for whoever needs its spot.
            vehicle.clear_errors()
            new_id = again["booking"]["id"]

            async def completed() -> bool:
                return await _status(site.http, new_id) == "completed"

            await eventually(completed, timeout=60)
        done = await _get(site.http, "/tasks", status="completed")
        assert [t["booking"]["id"] for t in done] == [new_id], "completed once, by one task"
        assert (await _get(site.http, f"/tasks/{new_id}/state"))["assigned_to"]["name"] != LOST
        assert len(await _get(site.http, "/events", kind="task_reassigned")) == 1
        assert {o["orderId"] for o in spy.orders if o["serialNumber"] != LOST} == {new_id}
        _no_order_twice(spy)


class MasterRuns:
    """``fleethub vda5050`` processes on one data directory, one after the other."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.runs: list[Process] = []

    async def start(self) -> Process:
        process = fleethub(f"vda5050-{len(self.runs) + 1}", "vda5050", self.env, self.log_dir)
        self.runs.append(process)
        await process.start()
        await wait_http(await process.url("vda5050") + "/readyz")
        return process

    async def stop(self) -> None:
        for process in self.runs:
            await process.stop()


@contextlib.asynccontextmanager
async def _hub_and_vehicles(
    settings: Settings,
    mosquitto: Mosquitto,
    tmp_path: Path,
    *,
    vehicles: int,
    speed_mps: float,
    release_nodes: int,
) -> AsyncIterator[tuple[aiohttp.ClientSession, MasterRuns, SimFleet, OrderSpy]]:
    """The hub in this process, a first master control running, ``vehicles`` shown, a spy."""

    server = await start_embedded(settings)
    masters = MasterRuns(
        {
            **os.environ,
            "FLEETHUB_MQTT_URL": mosquitto.url,
            "FLEETHUB_HUB_URL": str(server.make_url("")).rstrip("/"),
            "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
            "FLEETHUB_DATA_DIR": str(tmp_path / "master-control"),
            "FLEETHUB_VDA5050_PORT": "0",
            "FLEETHUB_VDA5050_RELEASE_NODES": str(release_nodes),
            # Nothing is lost on a private broker: a re-send would only be a spurious repeat.
            "FLEETHUB_VDA5050_RESEND_S": "60",
            "FLEETHUB_VDA5050_STATE_TIMEOUT_S": str(STATE_TIMEOUT_S),
        },
        tmp_path,
    )
    fleet = SimFleet(
        sample_site(),
        mqtt_config(settings, mosquitto.url),
        Topics(),
        SimFleetConfig(
            count=vehicles, rate_hz=5.0, profile=VehicleProfile(speed_mps=speed_mps, action_s=0.3)
        ),
    )
    spy = OrderSpy()
    try:
        await masters.start()
        async with (
            running(asyncio.create_task(spy.run(mosquitto.url))),
            running(asyncio.create_task(fleet.run())),
            aiohttp.ClientSession(server.make_url("")) as http,
        ):

            async def shown() -> bool:
                state = await _get(http, f"/fleets/{FLEET}/state")
                return bool(state) and len(state["robots"]) == vehicles

            await eventually(shown, timeout=20)
            yield http, masters, fleet, spy
    finally:
        await masters.stop()
        await server.close()


async def test_a_master_control_killed_while_orders_run_completes_every_task_sending_no_order_twice(
    settings: Settings, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with _hub_and_vehicles(
        settings, mosquitto, tmp_path, vehicles=3, speed_mps=5.0, release_nodes=1
    ) as (
        http,
        masters,
        fleet,
        spy,
    ):
        tasks = []
        # Each vehicle patrols near where it stands, in an update per node: many orders, fast.
        for places in (("lobby", "charger_1"), ("pantry", "charger_2"), ("room_101", "parking_1")):
            body = {
                "type": "dispatch_task_request",
                "request": {**patrol(*places, rounds=2), "fleet_name": FLEET},
            }
            async with http.post("/tasks/dispatch_task", json=body) as answer:
                assert answer.status == 200, await answer.text()
                tasks.append((await answer.json())["state"]["booking"]["id"])
        vehicles = [client.vehicle for client in fleet.clients.values()]
        await eventually(lambda: all(v.order_update_id >= 1 for v in vehicles), timeout=30)
        await masters.runs[0].kill()
        sent_before = len(spy.orders)
        await masters.start()

        async def all_completed() -> bool:
            return all([await _status(http, task) == "completed" for task in tasks])

        await eventually(all_completed, timeout=60)
        assert spy.orders[sent_before:], "the orders went on after the restart"
        assert {o["orderId"] for o in spy.orders} == set(tasks), "no new order for a running task"
        _no_order_twice(spy)


async def test_a_robot_dropped_then_its_master_control_killed_is_reassigned_once(
    settings: Settings, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = settings.replace(derive_reassign=True, **FAST)
    async with _hub_and_vehicles(
        settings, mosquitto, tmp_path, vehicles=2, speed_mps=8.0, release_nodes=2
    ) as (
        http,
        masters,
        _,
        spy,
    ):
        lost = _lost_vehicle(settings, mosquitto.url)
        drive = asyncio.create_task(lost.run())
        try:

            async def shown() -> bool:
                state = await _get(http, f"/fleets/{FLEET}/state")
                return bool(state) and LOST in state["robots"]

            await eventually(shown, timeout=20)
            task_id = await _robot_task(http, LOST)
            await _drive_until_mid_task(lost, task_id)
        finally:
            await cancel_and_wait(drive, grace_s=5.0)
        await masters.runs[0].kill()
        await masters.start()
        again = await _redispatched(http, task_id)
        # The dropped vehicle comes back: what it holds follows it again, the way is free.
        async with running(asyncio.create_task(lost.run())):

            async def completed() -> bool:
                return await _status(http, again["booking"]["id"]) == "completed"

            await eventually(completed, timeout=60)
        assert await _status(http, task_id) == "canceled"
        assert len(await _get(http, "/events", kind="task_reassigned")) == 1
        assert len(await _get(http, "/tasks", label=f"reassigned_from={task_id}")) == 1
        _no_order_twice(spy)
