"""What only ROS 2 carries, in the hub: beacons (rooms and REST) and RMF's own alerts.

Beacons travel over real DDS into the bridge inside the hub. RMF's alerts
exist from Kilted on (Jazzy's rmf_task_msgs has none): one test sends an Alert
over DDS where the interfaces have it (``scripts/test_ros_distro kilted``);
the others send the frames the bridge makes of them to /_internal, as a
Kilted site bridge does, and need no ROS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import eventually
from tests.helpers import IngestClient, Subscriber
from tests.ros.conftest import RosProcess, base

pytestmark = pytest.mark.integration


async def get_json(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            return response.status, await response.json()


@pytest.mark.ros
async def test_a_beacon_published_over_ros_reaches_the_beacons_room_and_rest(
    hub_with_bridge: TestServer, ros_process: Callable[..., RosProcess]
) -> None:
    client = await Subscriber().connect(base(hub_with_bridge))
    try:
        await client.subscribe("/beacons")
        ros_process("publish_site.py", "beacon")
        await eventually(lambda: client.of("/beacons"), timeout=15)
        beacon = {"id": "beacon_1", "online": True, "category": "fire", "activated": True}
        assert client.of("/beacons")[-1] == {**beacon, "level": "L1"}
        assert await get_json(f"{base(hub_with_bridge)}/beacons") == (
            200,
            [{**beacon, "level": "L1"}],
        )
        assert await get_json(f"{base(hub_with_bridge)}/beacons/beacon_1") == (
            200,
            {**beacon, "level": "L1"},
        )
    finally:
        await client.close()


def interfaces_have_alerts() -> bool:
    """RMF's alerts are in rmf_task_msgs from Kilted on."""
    try:
        from rmf_task_msgs.msg import Alert  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.ros
@pytest.mark.skipif(
    not interfaces_have_alerts(),
    reason="no Alert in this distro's rmf_task_msgs (Jazzy); ./scripts/test runs it on Kilted",
)
async def test_an_alert_published_over_ros_is_an_alert_request_in_its_room_and_rest(
    hub_with_bridge: TestServer, ros_process: Callable[..., RosProcess]
) -> None:
    client = await Subscriber().connect(base(hub_with_bridge))
    try:
        await client.subscribe("/alerts/requests")
        ros_process("publish_site.py", "alert")
        await eventually(lambda: client.of("/alerts/requests"), timeout=15)
        published = client.of("/alerts/requests")[-1]
        assert (published["id"], published["tier"], published["task_id"]) == (
            "ros-alert-1",
            "error",
            "task-9",
        )
        assert published["responses_available"] == ["retry", "cancel"]
        assert await get_json(f"{base(hub_with_bridge)}/alerts/request/ros-alert-1") == (
            200,
            published,
        )
    finally:
        await client.close()


async def test_an_unknown_beacon_is_not_found(embedded: TestServer) -> None:
    status, _ = await get_json(f"{base(embedded)}/beacons/nobody")
    assert status == 404


RMF_ALERT = {
    "id": "rmf-alert-1",
    "title": "Stuck",
    "subtitle": "tinyRobot/bot1",
    "message": "bot1 cannot reach the pantry",
    "display": True,
    "tier": 1,
    "responses_available": ["retry", "cancel"],
    "alert_parameters": [{"name": "robot", "value": "bot1"}],
    "task_id": "task-7",
}


async def test_an_alert_from_rmf_is_an_alert_request_in_its_room_and_rest(
    embedded: TestServer,
) -> None:
    client = await Subscriber().connect(base(embedded))
    try:
        await client.subscribe("/alerts/requests")
        async with IngestClient(base(embedded)) as site:
            await site.send("alert_update", RMF_ALERT)
            await eventually(lambda: client.of("/alerts/requests"))
        published = client.of("/alerts/requests")[-1]
        assert published["tier"] == "warning"
        assert published["task_id"] == "task-7"
        assert published["responses_available"] == ["retry", "cancel"]
        assert published["unix_millis_alert_time"] > 0
        assert await get_json(f"{base(embedded)}/alerts/request/rmf-alert-1") == (200, published)
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def site_answering_its_alert(
    server: TestServer,
) -> AsyncIterator[tuple[IngestClient, dict[str, Any]]]:
    """A site that raised RMF_ALERT and answered it itself: the site and the published response."""
    client = await Subscriber().connect(base(server))
    try:
        await client.subscribe("/alerts/responses")
        async with IngestClient(base(server)) as site:
            await site.send("alert_update", RMF_ALERT)
            await site.send("alert_response_update", {"id": "rmf-alert-1", "response": "retry"})
            await eventually(lambda: client.of("/alerts/responses"))
            yield site, client.of("/alerts/responses")[-1]
    finally:
        await client.close()


async def test_a_response_given_at_the_site_is_an_alert_response_in_its_room_and_rest(
    embedded: TestServer,
) -> None:
    async with site_answering_its_alert(embedded) as (_, published):
        assert published["response"] == "retry"
        assert published["responder"] == "rmf"
        status, stored = await get_json(f"{base(embedded)}/alerts/request/rmf-alert-1/response")
        assert (status, stored) == (200, published)


async def test_a_frame_of_a_type_nobody_defined_is_still_rejected(embedded: TestServer) -> None:
    async with IngestClient(base(embedded)) as site:
        await site.send("task_api_response", {"request_id": "r", "json_msg": "{}"})
        assert (await site.next_reply())["error"] == "unknown_type"


async def next_frame_of_type(site: IngestClient, type_: str, timeout: float = 10.0) -> Any:
    """The next frame of ``type_`` the hub sends this site (commands, notices), skipping others."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, f"no {type_} frame within {timeout}s"
        frame = await site.next_reply(timeout=remaining)
        if frame.get("type") == type_:
            return frame["data"]


async def test_an_operators_response_to_an_alert_is_handed_to_the_sites_for_rmf(
    embedded: TestServer,
) -> None:
    async with IngestClient(base(embedded)) as site:
        await site.send("alert_update", RMF_ALERT)
        alert = f"{base(embedded)}/alerts/request/rmf-alert-1"

        async def stored() -> bool:
            return (await get_json(alert))[0] == 200

        await eventually(stored)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{alert}/respond", params={"response": "retry"}) as response:
                assert response.status == 201
        assert await next_frame_of_type(site, "alert_response") == {
            "id": "rmf-alert-1",
            "response": "retry",
        }


async def test_a_response_rmf_gave_itself_is_not_handed_back_to_the_sites(
    embedded: TestServer,
) -> None:
    async with site_answering_its_alert(embedded) as (site, _):
        with pytest.raises(TimeoutError):
            await next_frame_of_type(site, "alert_response", timeout=1.5)
