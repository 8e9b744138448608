"""rmf-web's site-wide extras through the hub: RIOs, the fire alarm, delivery alerts, mutex groups,
beacons posted over REST. Reads come from rooms the hub published; writes are commands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from simulator import SimulatorService
from tests.conftest import eventually
from tests.helpers import IngestClient, Subscriber, fleet

DELIVERY_ALERT = {
    "id": "d1",
    "category": "missing",
    "tier": "warning",
    "action": "waiting",
    "task_id": "t1",
    "message": "no cart",
}


@pytest.fixture
async def rmf(embedded: TestServer) -> AsyncIterator[IngestClient]:
    """A second RMF site, reporting what the simulator does not."""
    async with IngestClient(str(embedded.make_url("")).rstrip("/")) as site:
        yield site


@pytest.fixture
async def rooms(embedded: TestServer) -> AsyncIterator[Subscriber]:
    client = await Subscriber().connect(str(embedded.make_url("")).rstrip("/"))
    yield client
    await client.close()


async def _kind(http: aiohttp.ClientSession, answer: aiohttp.ClientResponse) -> Any:
    async with http.get(f"/commands/{answer.headers['Idempotency-Key']}") as command:
        return (await command.json())["kind"]


async def test_a_rio_is_created_then_replaced_and_published_each_time(
    http: aiohttp.ClientSession, rooms: Subscriber
) -> None:
    await rooms.subscribe("/rios")
    first, second = (
        {"id": "cart_1", "type": "cart", "data": {"at": place}} for place in ("lobby", "pantry")
    )

    async with http.put("/rios", json=first) as created:
        assert (created.status, await created.json()) == (201, None)
    async with http.put("/rios", json=second) as replaced:
        assert (replaced.status, await replaced.json()) == (200, None)

    assert await (await http.get("/rios", params={"type": "cart"})).json() == [second]
    assert await (await http.get("/rios", params={"id": "other"})).json() == []
    assert await eventually(lambda: rooms.of("/rios") == [first, second])


async def test_the_fire_alarm_is_the_sites_and_a_reset_goes_through_a_site(
    site: SimulatorService, http: aiohttp.ClientSession, rmf: IngestClient, rooms: Subscriber
) -> None:
    path = "/building_map/previous_fire_alarm_trigger"
    assert (await http.get(path)).status == 404

    await rmf.send("fire_alarm_trigger_update", {"trigger": True})

    async def triggered() -> Any:
        answer = await http.get(path)
        return answer.status == 200 and (await answer.json())["trigger"]

    await eventually(triggered)
    async with http.post("/building_map/reset_fire_alarm_trigger") as answer:
        reset = await answer.json()
        assert answer.status == 200
        assert await _kind(http, answer) == "reset_fire_alarm_trigger"
    assert reset["trigger"] is False
    await rooms.subscribe("/building_map/fire_alarm_trigger")
    # The room's value may still be the trigger when subscribing; the site's echo of the reset
    # follows.
    await eventually(lambda: _last_trigger(rooms) is False)


def _last_trigger(rooms: Subscriber) -> bool | None:
    states = rooms.of("/building_map/fire_alarm_trigger")
    return bool(states[-1]["trigger"]) if states else None


async def test_a_delivery_alert_and_its_response_reach_the_room(
    site: SimulatorService, http: aiohttp.ClientSession, rmf: IngestClient, rooms: Subscriber
) -> None:
    await rooms.subscribe("/delivery_alerts")
    await rmf.send("delivery_alert_update", DELIVERY_ALERT)
    await eventually(lambda: rooms.of("/delivery_alerts") == [DELIVERY_ALERT])
    query = {**DELIVERY_ALERT, "action": "resume"}
    del query["id"]

    async with http.post("/delivery_alerts/d1/response", params=query) as answer:
        assert answer.status == 200
        assert await answer.json() == {**DELIVERY_ALERT, "action": "resume"}
        assert await _kind(http, answer) == "delivery_alert_response"

    await eventually(lambda: len(rooms.of("/delivery_alerts")) == 2)
    assert rooms.of("/delivery_alerts")[1]["action"] == "resume"


async def test_a_mutex_group_is_released_only_when_the_robot_holds_it(
    site: SimulatorService, http: aiohttp.ClientSession, rmf: IngestClient
) -> None:
    state = fleet("f", {"r1": (0.0, 0.0)})
    state["robots"]["r1"]["mutex_groups"] = {"locked": ["corridor"], "requesting": []}
    await rmf.send("fleet_state_update", state)
    await eventually(lambda: _reported(http, "/fleets/f/state"))
    unlock = "/fleets/f/unlock_mutex_group"

    held = await http.post(unlock, params={"robot_name": "r1", "mutex_group": "corridor"})
    not_held = await http.post(unlock, params={"robot_name": "r1", "mutex_group": "lift"})
    no_robot = await http.post(unlock, params={"robot_name": "r9", "mutex_group": "corridor"})

    assert (held.status, await held.json()) == (200, None)
    assert await _kind(http, held) == "unlock_mutex_group"
    assert (
        not_held.status == 400
        and "does not have mutex group lift" in (await not_held.json())["detail"]
    )
    assert no_robot.status == 404


async def test_a_posted_beacon_is_published_as_a_reported_one(
    http: aiohttp.ClientSession, rooms: Subscriber
) -> None:
    await rooms.subscribe("/beacons")
    query = {
        "beacon_id": "b1",
        "online": "true",
        "category": "c",
        "activated": "true",
        "level": "L1",
    }
    expected = {"id": "b1", "online": True, "category": "c", "activated": True, "level": "L1"}

    async with http.post("/beacons", params=query) as answer:
        assert (answer.status, await answer.json()) == (201, expected)

    assert await (await http.get("/beacons/b1")).json() == expected
    await eventually(lambda: rooms.of("/beacons") == [expected])


async def _reported(http: aiohttp.ClientSession, path: str) -> bool:
    async with http.get(path) as answer:
        return answer.status == 200
