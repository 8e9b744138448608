"""Operators' controls of VDA 5050 vehicles over REST, through the hub, to vehicles on a real broker.

The embedded system and the master control as in ``test_end_to_end.py``,
on a private Mosquitto. Three simulated vehicles start on ``charger_1``,
``charger_2`` and ``parking_1``; a vehicle that vanishes runs in a process
of its own, killed without a word. Who may use the controls is tested without
vehicles, in ``tests/rest_api/test_robot_controls.py``.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from fleetcore.settings import Settings
from simulator.vehicles.vehicle import SimVehicle
from tests.conftest import eventually
from tests.processes import Process
from tests.vda5050.conftest import Mosquitto
from tests.vda5050.loopback import patrol
from tests.vda5050.test_end_to_end import FLEET, VEHICLE_PROCESS, VdaSite, vda_site
from vda5050.traffic import robot_key

pytestmark = pytest.mark.integration


async def post(site: VdaSite, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with site.http.post(path, **kwargs) as answer:
        return answer.status, await answer.json()


async def control(site: VdaSite, robot: str, what: str) -> tuple[int, dict[str, Any]]:
    return await post(site, f"/fleets/{FLEET}/robots/{robot}/{what}")


async def robot_state(site: VdaSite, robot: str) -> dict[str, Any]:
    async with site.http.get(f"/fleets/{FLEET}/state") as answer:
        robots: dict[str, dict[str, Any]] = (await answer.json())["robots"]
    return robots.get(robot, {})


async def robot_task(site: VdaSite, robot: str, request: dict[str, Any]) -> str:
    body = {"type": "robot_task_request", "robot": robot, "fleet": FLEET, "request": request}
    status, doc = await post(site, "/tasks/robot_task", json=body)
    assert status == 200, doc
    return str(doc["state"]["booking"]["id"])


def vehicle(site: VdaSite, robot: str) -> SimVehicle:
    return site.fleet.clients[robot].vehicle


async def until_status(site: VdaSite, task_id: str, status: str) -> None:
    async def reached() -> bool:
        return await site.task_status(task_id) == status

    await eventually(reached, timeout=20)


async def test_pause_holds_the_vehicle_and_its_reservations_and_resume_lets_its_task_finish(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with vda_site(settings, mosquitto.url) as site:
        task_id = await robot_task(site, "agv3", patrol("lobby", "room_102"))
        await until_status(site, task_id, "underway")
        status, answer = await control(site, "agv3", "pause")
        assert status == 200 and answer["success"] is True, answer

        async def shown_paused() -> bool:
            state = await robot_state(site, "agv3")
            return bool(state.get("vda5050", {}).get("paused"))

        await eventually(shown_paused, timeout=10)
        assert vehicle(site, "agv3").paused
        assert await site.task_status(task_id) == "underway"
        assert site.service.master.traffic.held(robot_key(FLEET, "agv3"))

        status, answer = await control(site, "agv3", "resume")
        assert status == 200 and answer["success"] is True, answer
        await until_status(site, task_id, "completed")
        async with site.http.get("/audit", params={"action": "pause_robot"}) as got:
            entries = await got.json()
        assert [(e["target"], e["status"]) for e in entries] == [
            (f"/fleets/{FLEET}/robots/agv3/pause", 200)
        ]


async def test_charge_sends_an_idle_vehicle_to_the_nearest_free_charger_and_refuses_without_one(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with vda_site(settings, mosquitto.url) as site:
        # agv1 and agv2 stand on the only chargers of the level.
        status, answer = await control(site, "agv3", "charge")
        assert status == 400, answer
        assert "no free charger is reachable for agv3" in answer["errors"][0]["detail"]

        await until_status(site, await robot_task(site, "agv2", patrol("room_102")), "completed")
        status, answer = await control(site, "agv3", "charge")
        assert status == 200 and answer["charger"] == "charger_2", answer
        charge = answer["task_id"]
        assert vehicle(site, "agv3").order_id == charge
        await until_status(site, charge, "completed")
        assert vehicle(site, "agv3").last_node_id == "charger_2"


async def test_an_out_of_service_robot_gets_no_new_task_until_it_is_back_in_service(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with vda_site(settings, mosquitto.url) as site:
        params = {"robot_name": "agv3", "reassign_tasks": "true", "allow_idle_behavior": "false"}
        status, answer = await post(site, f"/fleets/{FLEET}/decommission", params=params)
        assert status == 200 and answer["commission"]["success"] is True, answer

        async def out_of_service() -> bool:
            state = await robot_state(site, "agv3")
            return state.get("commission", {}).get("dispatch_tasks") is False

        await eventually(out_of_service, timeout=10)
        own = await robot_task(site, "agv3", patrol("room_102"))
        others = [await site.dispatch(patrol("room_101")) for _ in range(2)]
        for task_id in others:
            await until_status(site, task_id, "completed")
        assert await site.task_status(own) == "queued"
        assert vehicle(site, "agv3").order_id == ""

        params = {"robot_name": "agv3"}
        status, answer = await post(site, f"/fleets/{FLEET}/recommission", params=params)
        assert status == 200, answer
        await until_status(site, own, "completed")


async def test_clearing_a_vanished_vehicles_reservations_frees_them_and_cancels_its_task(
    settings: Settings, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with vda_site(settings, mosquitto.url, vehicles=0) as site:
        process = await Process(
            "vehicle", [sys.executable, "-c", VEHICLE_PROCESS, mosquitto.url], os.environ, tmp_path
        ).start()
        try:

            async def shown() -> bool:
                return "lost1" in await site.robots()

            await eventually(shown, timeout=20)
            task_id = await robot_task(site, "lost1", patrol("room_102"))
            await until_status(site, task_id, "underway")
            key = robot_key(FLEET, "lost1")
            held = site.service.master.traffic.held(key)
            assert held
            process.signal(signal.SIGKILL)  # no DISCONNECT: the broker sends the last will

            async def vanished() -> bool:
                return "lost1" not in await site.robots()

            await eventually(vanished, timeout=20)
            status, answer = await control(site, "lost1", "clear_reservations")
            assert status == 200 and answer["cleared"], answer
            assert site.service.master.traffic.held(key) == set()
            await until_status(site, task_id, "canceled")
        finally:
            await process.stop()
