"""VDA 5050 vehicles through a real broker, shown and commanded like RMF fleets, end to end.

The embedded system (hub, proxy, REST) runs on a loopback port without its
RMF simulator; the master control reaches it over ``/_internal`` as a site;
simulated vehicles are MQTT clients of their own on a real broker (a private
Mosquitto, or the broker ``fleethub up`` embeds). Vehicles are fast and
thresholds short, so each test takes seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from fleetcore.contract.vda5050 import Topics
from fleetcore.settings import Settings
from simulator.building import sample_site
from simulator.vehicles import SimFleet, SimFleetConfig, VehicleProfile
from tests.conftest import eventually, start_embedded
from tests.helpers import Subscriber
from tests.processes import Process
from tests.vda5050.conftest import Mosquitto, mqtt_client, running
from tests.vda5050.loopback import delivery, patrol
from vda5050.service import MasterControlService, mqtt_config, nav_graph

FLEET = "vda5050"

pytestmark = pytest.mark.integration


@dataclass
class VdaSite:
    server: TestServer
    http: aiohttp.ClientSession
    fleet: SimFleet
    service: MasterControlService
    settings: Settings

    @property
    def base(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def dispatch(self, request: dict[str, Any]) -> str:
        body = {"type": "dispatch_task_request", "request": {**request, "fleet_name": FLEET}}
        async with self.http.post("/tasks/dispatch_task", json=body) as answer:
            doc = await answer.json()
            assert answer.status == 200, doc
        return str(doc["state"]["booking"]["id"])

    async def task_status(self, task_id: str) -> str:
        async with self.http.get(f"/tasks/{task_id}/state") as answer:
            return str((await answer.json()).get("status")) if answer.status == 200 else ""

    async def robots(self) -> set[str]:
        async with self.http.get(f"/fleets/{FLEET}/state") as answer:
            return set((await answer.json())["robots"]) if answer.status == 200 else set()


@contextlib.asynccontextmanager
async def vda_site(
    settings: Settings, broker_url: str, vehicles: int = 3
) -> AsyncIterator[VdaSite]:

    settings = settings.replace(
        derive_stale_s=0.5,
        derive_offline_s=1.0,
        derive_restart_grace_s=0.0,
        derive_tick_ms=100,
        vda5050_resend_s=1.0,
    )
    server = await start_embedded(settings)
    settings = settings.replace(hub_url=str(server.make_url("")).rstrip("/"))
    mqtt = mqtt_config(settings, broker_url)
    service = MasterControlService(settings, mqtt=mqtt, graph=nav_graph(settings))
    fleet = SimFleet(
        sample_site(),
        mqtt,
        Topics(),
        SimFleetConfig(
            count=vehicles, rate_hz=5.0, profile=VehicleProfile(speed_mps=8.0, action_s=0.3)
        ),
    )
    try:
        async with (
            running(asyncio.create_task(service.run())),
            running(asyncio.create_task(fleet.run())),
            aiohttp.ClientSession(server.make_url("")) as http,
        ):
            site = VdaSite(server, http, fleet, service, settings)

            async def all_shown() -> bool:
                return len(await site.robots()) == vehicles

            await eventually(all_shown, timeout=20)
            yield site
    finally:
        await server.close()


async def test_a_patrol_and_a_delivery_complete_followed_over_socketio_and_rest(
    settings: Settings, broker_url: str
) -> None:
    async with vda_site(settings, broker_url) as site:
        watcher = await Subscriber().connect(site.base)
        try:
            tasks = [
                await site.dispatch(patrol("room_102", "lobby")),
                await site.dispatch(delivery()),
            ]
            for task_id in tasks:
                assert (await watcher.subscribe(f"/tasks/{task_id}/state"))["success"]

            def completed() -> bool:
                return all(
                    any(s["status"] == "completed" for s in watcher.of(f"/tasks/{t}/state"))
                    for t in tasks
                )

            await eventually(completed, timeout=30)
            for task_id in tasks:
                assert await site.task_status(task_id) == "completed"
                async with site.http.get(f"/tasks/{task_id}/log") as answer:
                    log = await answer.json()
                texts = [e["text"] for e in log["log"]]
                assert texts[0].startswith("Beginning task") and texts[-1] == "Task completed"
            statuses = [s["status"] for s in watcher.of(f"/tasks/{tasks[1]}/state")]
            assert "underway" in statuses
            async with site.http.get("/fleets") as answer:
                fleets = {f["name"]: f for f in await answer.json()}
            assert set(fleets[FLEET]["robots"]) == {"agv1", "agv2", "agv3"}
        finally:
            await watcher.close()


async def test_cancel_over_rest_stops_the_vehicle_with_cancel_order(
    settings: Settings, broker_url: str
) -> None:
    async with vda_site(settings, broker_url) as site:
        task_id = await site.dispatch(patrol("room_102", "lobby", rounds=3))

        async def underway() -> bool:
            return await site.task_status(task_id) == "underway"

        await eventually(underway, timeout=10)
        body = {"type": "cancel_task_request", "task_id": task_id, "labels": ["test"]}
        async with site.http.post("/tasks/cancel_task", json=body) as answer:
            assert answer.status == 200
            assert (await answer.json())["success"] is True

        async def canceled() -> bool:
            return await site.task_status(task_id) == "canceled"

        await eventually(canceled, timeout=10)
        vehicle = next(
            c.vehicle for c in site.fleet.clients.values() if c.vehicle.order_id == task_id
        )

        def stopped() -> bool:
            cancel = vehicle.action_states.get(f"{task_id}:cancel")
            return cancel is not None and cancel.actionStatus == "FINISHED" and not vehicle.nodes

        await eventually(stopped, timeout=10)


VEHICLE_PROCESS = """
import asyncio, sys
from fleetcore.contract.vda5050 import Topics
from fleetcore.mqtt import MqttConfig
from simulator.building import sample_site
from simulator.vehicles import SimFleet, SimFleetConfig
fleet = SimFleet(sample_site(), MqttConfig.from_url(sys.argv[1]), Topics(),
                 SimFleetConfig(count=1, serial_prefix="lost", rate_hz=5.0))
asyncio.run(fleet.run())
"""


async def test_a_vehicle_whose_connection_drops_without_disconnect_goes_offline_with_an_alert(
    settings: Settings, broker_url: str, tmp_path: Path
) -> None:
    async with vda_site(settings, broker_url) as site:
        vehicle = await Process(
            "vehicle", [sys.executable, "-c", VEHICLE_PROCESS, broker_url], os.environ, tmp_path
        ).start()
        try:

            async def shown() -> bool:
                return "lost1" in await site.robots()

            await eventually(shown, timeout=20)
            vehicle.signal(signal.SIGKILL)  # no DISCONNECT: the broker sends the last will

            async def alerted() -> bool:
                async with site.http.get("/alerts/unresponded_requests") as answer:
                    alerts = await answer.json()
                return any(a["title"] == "Robot lost1 is offline" for a in alerts)

            await eventually(alerted, timeout=20)
            assert "lost1" not in await site.robots()
            assert {"agv1", "agv2", "agv3"} <= await site.robots()
            async with site.http.get(f"/fleets/{FLEET}/log") as answer:
                log = await answer.json()
            notes = [e["text"] for e in log.get("robots", {}).get("lost1", [])]
            assert any("CONNECTIONBROKEN" in note for note in notes), notes
        finally:
            await vehicle.stop()


def _fuzz(rng: random.Random) -> bytes:
    """A message no vehicle should send on any topic: broken JSON, wrong types, NaN, huge..."""
    good: dict[str, Any] = {
        "headerId": rng.randrange(1000),
        "timestamp": "2030-01-01T00:00:00.00Z",
        "version": "2.1.0",
        "manufacturer": "fleethub",
        "serialNumber": "agv1",
        "connectionState": "ONLINE",
    }
    choice = rng.randrange(8)
    if choice == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if choice == 1:
        return orjson.dumps(good)[: rng.randrange(1, 40)]
    if choice == 2:
        return orjson.dumps({**good, "headerId": "one"})
    if choice == 3:
        return orjson.dumps({**good, "connectionState": "MAYBE", "timestamp": "noon"})
    if choice == 4:
        return b'{"agvPosition": {"x": NaN, "y": 0, "theta": 0, "mapId": "L1", "positionInitialized": true}}'
    if choice == 5:
        return b"[" * 5000 + b"]" * 5000
    if choice == 6:
        return orjson.dumps({**good, "serialNumber": "someone-else"})
    return b"x" * 300_000


def _rejected() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "fleethub_vda5050_rejected"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def test_a_malformed_message_fuzz_leaves_the_hub_and_the_other_vehicles_unaffected(
    settings: Settings, broker_url: str
) -> None:
    async with vda_site(settings, broker_url) as site:
        rng = random.Random(16)
        before = _rejected()
        sent = 0
        async with mqtt_client(broker_url, "fuzzer") as fuzzer:
            for _batch in range(6):
                for _ in range(500):
                    topic = rng.choice(("state", "connection", "factsheet", "visualization"))
                    serial = rng.choice(("agv1", "fuzz1", "fuzz2"))
                    await fuzzer.publish(f"uagv/v2/fleethub/{serial}/{topic}", _fuzz(rng), qos=1)
                    sent += 1

                def caught_up(expected: int = sent) -> bool:
                    return _rejected() - before >= expected

                await eventually(caught_up, timeout=30)
        assert _rejected() - before == sent
        async with site.http.get("/readyz") as answer:
            assert answer.status == 200
        assert await site.robots() == {"agv1", "agv2", "agv3"}
        task_id = await site.dispatch(delivery())

        async def completed() -> bool:
            return await site.task_status(task_id) == "completed"

        await eventually(completed, timeout=30)


async def test_the_master_control_and_vehicles_reconnect_after_the_broker_restarts(
    settings: Settings, mosquitto: Mosquitto
) -> None:
    async with vda_site(settings, mosquitto.url) as site:
        await mosquitto.restart()

        async def reconnected() -> bool:
            return site.service.link.connections >= 2 and all(
                c.link.connections >= 2 and c.link.connected for c in site.fleet.clients.values()
            )

        await eventually(reconnected, timeout=30)
        task_id = await site.dispatch(patrol("pantry"))

        async def completed() -> bool:
            return await site.task_status(task_id) == "completed"

        await eventually(completed, timeout=30)


async def test_vehicles_crossing_one_corridor_never_share_a_node_or_lane(
    settings: Settings, broker_url: str
) -> None:
    """Traffic control over MQTT: every task completes, and at every look no node or lane has
    two holders and each standing vehicle holds the node it reports."""
    conflicts = "fleethub_vda5050_traffic_conflicts_total"
    before = REGISTRY.get_sample_value(conflicts) or 0.0
    async with vda_site(settings, broker_url) as site:
        tasks = [
            await site.dispatch(patrol("room_102", "lobby")),
            await site.dispatch(patrol("lobby", "room_102")),
            await site.dispatch(patrol("pantry", "parking_2", "charger_1")),
            await site.dispatch(patrol("room_101", "pantry")),
        ]
        traffic = site.service.master.traffic
        looks = 0

        async def safe_until_done() -> bool:
            nonlocal looks
            looks += 1
            holders: dict[str, str] = {}
            for robot in {*traffic.paths, *traffic.owner.values()}:
                for resource in traffic.held(robot):
                    assert holders.setdefault(resource, robot) == robot, resource
            for name, client in site.fleet.clients.items():
                vehicle = client.vehicle
                if not vehicle.driving and vehicle.map_id == "L1":
                    assert holders.get(f"node:{vehicle.last_node_id}") == f"{FLEET}/{name}"
            statuses = [await site.task_status(t) for t in tasks]
            assert "failed" not in statuses, statuses
            return all(status == "completed" for status in statuses)

        await eventually(safe_until_done, timeout=90, interval=0.05)
    assert looks > 10
    assert (REGISTRY.get_sample_value(conflicts) or 0.0) == before


async def unnamed_dispatch(site: VdaSite, request: dict[str, Any]) -> dict[str, Any]:
    """POST /tasks/dispatch_task naming no fleet; RMF's answer (the new task's state)."""
    body = {"type": "dispatch_task_request", "request": request}
    async with site.http.post("/tasks/dispatch_task", json=body) as answer:
        doc: dict[str, Any] = await answer.json()
        assert answer.status == 200, doc
    return doc


async def task_log(site: VdaSite, task_id: str) -> list[str]:
    async with site.http.get(f"/tasks/{task_id}/log") as answer:
        return [e["text"] for e in (await answer.json())["log"]] if answer.status == 200 else []


async def test_a_dispatch_naming_no_fleet_goes_to_the_vda_fleet_that_can_do_it_and_says_why(
    settings: Settings, broker_url: str
) -> None:
    async with vda_site(settings, broker_url) as site:
        doc = await unnamed_dispatch(site, patrol("room_102"))
        task_id = str(doc["state"]["booking"]["id"])

        async def completed() -> bool:
            return await site.task_status(task_id) == "completed"

        await eventually(completed, timeout=30)
        log = await task_log(site, task_id)
        assert log[0].startswith(f"No fleet named: fleet {FLEET} bids")
        assert doc["state"]["assigned_to"]["group"] == FLEET


async def test_a_dispatch_naming_no_fleet_no_vda_vehicle_can_reach_goes_to_rmfs_dispatcher(
    settings: Settings, broker_url: str
) -> None:
    import simulator

    declined = "fleethub_command_responses_ignored_total"
    before = REGISTRY.get_sample_value(declined, {"reason": "declined"}) or 0.0
    async with vda_site(settings, broker_url) as site:
        rmf = asyncio.create_task(simulator.run(site.settings))
        async with running(rmf):

            async def rmf_fleets() -> bool:
                async with site.http.get("/fleets") as answer:
                    return len(await answer.json()) > 1

            await eventually(rmf_fleets, timeout=20)
            doc = await unnamed_dispatch(site, patrol("kitchen"))
        assert doc["success"] is True
        assert "vda" not in str(doc["state"]["booking"]["id"])
        assert (REGISTRY.get_sample_value(declined, {"reason": "declined"}) or 0.0) == before + 1
