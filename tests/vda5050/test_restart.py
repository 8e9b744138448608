"""SIGKILL of ``fleethub vda5050`` in the middle of an order: the order goes on, nothing is sent twice.

The master control runs as a real process against a private Mosquitto and
the hub; the vehicles and a spy on the ``order`` topic run in the test. The
master control is killed once the vehicle holds an order update, and started
again on the same data directory: its journal says which order the task runs
as, so it sends no new order, continues with the next ``orderUpdateId``, and
the task completes.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import orjson
import pytest

from fleetcore.contract.vda5050 import Topics
from fleetcore.settings import Settings
from simulator.building import sample_site
from simulator.vehicles import SimFleet, SimFleetConfig, VehicleProfile
from tests.conftest import eventually, start_embedded
from tests.helpers import TEST_SITE_TOKEN
from tests.processes import Process, fleethub, wait_http
from tests.vda5050.conftest import Mosquitto, mqtt_client, running
from tests.vda5050.loopback import patrol
from vda5050.service import mqtt_config

pytestmark = pytest.mark.integration


class OrderSpy:
    """Every ``order`` message on the broker, as the vehicles get them."""

    def __init__(self) -> None:
        self.orders: list[dict[str, object]] = []

    async def run(self, url: str) -> None:
        async with mqtt_client(url, "order-spy") as client:
            await client.subscribe("uagv/v2/+/+/order")
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                self.orders.append(orjson.loads(message.payload))


def _master_control(env: dict[str, str], log_dir: Path, n: int) -> Process:
    return fleethub(f"vda5050-{n}", "vda5050", env, log_dir)


async def _started(process: Process) -> None:
    await process.start()
    await wait_http(await process.url("vda5050") + "/readyz")


async def test_a_master_control_killed_mid_order_continues_it_with_the_next_update(
    settings: Settings, mosquitto: Mosquitto, tmp_path: Path
) -> None:

    server = await start_embedded(settings)
    env = {
        **os.environ,
        "FLEETHUB_MQTT_URL": mosquitto.url,
        "FLEETHUB_HUB_URL": str(server.make_url("")).rstrip("/"),
        "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
        "FLEETHUB_DATA_DIR": str(tmp_path / "master-control"),
        "FLEETHUB_VDA5050_PORT": "0",
        "FLEETHUB_VDA5050_RELEASE_NODES": "2",
        "FLEETHUB_VDA5050_RESEND_S": "1",
    }
    fleet = SimFleet(
        sample_site(),
        mqtt_config(settings, mosquitto.url),
        Topics(),
        SimFleetConfig(count=1, rate_hz=5.0, profile=VehicleProfile(speed_mps=4.0, action_s=0.3)),
    )
    vehicle = fleet.clients["agv1"].vehicle
    spy = OrderSpy()
    first = _master_control(env, tmp_path, 1)
    second: Process | None = None
    try:
        await _started(first)
        async with (
            running(asyncio.create_task(spy.run(mosquitto.url))),
            running(asyncio.create_task(fleet.run())),
            aiohttp.ClientSession(server.make_url("")) as http,
        ):

            async def shown() -> bool:
                async with http.get("/fleets/vda5050/state") as answer:
                    return answer.status == 200 and "agv1" in (await answer.json())["robots"]

            await eventually(shown, timeout=20)
            body = {
                "type": "dispatch_task_request",
                "request": {**patrol("room_102", "lobby"), "fleet_name": "vda5050"},
            }
            async with http.post("/tasks/dispatch_task", json=body) as answer:
                assert answer.status == 200, await answer.text()
                task_id = (await answer.json())["state"]["booking"]["id"]

            await eventually(lambda: vehicle.order_update_id >= 2, timeout=30)
            await first.kill()
            sent_before = len(spy.orders)
            last = max(int(o["orderUpdateId"]) for o in spy.orders)  # type: ignore[call-overload]
            # The vehicle gets whatever was on its way before the kill, then stops at its
            # decision point until a master control releases more.
            await eventually(lambda: vehicle.order_update_id == last, timeout=10)

            second = _master_control(env, tmp_path, 2)
            await _started(second)

            async def completed() -> bool:
                async with http.get(f"/tasks/{task_id}/state") as answer:
                    return bool((await answer.json()).get("status") == "completed")

            await eventually(completed, timeout=90)
            after = spy.orders[sent_before:]
            assert {o["orderId"] for o in spy.orders} == {task_id}, "one order, never a new one"
            assert after, "the order went on after the restart"
            assert after[0]["orderUpdateId"] == last + 1
            assert all(int(o["orderUpdateId"]) > last for o in after)  # type: ignore[call-overload]
            headers = [int(o["headerId"]) for o in spy.orders]  # type: ignore[call-overload]
            assert headers == sorted(headers) and len(set(headers)) == len(headers)
    finally:
        for process in (first, second):
            if process is not None:
                await process.stop()
        await server.close()
