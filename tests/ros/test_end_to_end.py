"""ROS 2 → bridge → hub → socket.io and REST: a site's door and map seen by a dashboard.

A site process publishes over real DDS; a bridge (in this process, as at a
site) pushes to the embedded system's /_internal websocket; a socket.io
client and the REST API read the result.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from ros_bridge.sink import WebSocketSink, WebSocketSinkConfig, ingest_url
from tests.conftest import eventually
from tests.helpers import TEST_SITE_TOKEN, Subscriber
from tests.ros.conftest import RosProcess

pytestmark = [pytest.mark.ros, pytest.mark.integration]


def base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def site_bridge(embedded: TestServer) -> AsyncIterator[Any]:
    from ros_bridge.bridge import RosBridge

    sink = WebSocketSink(
        WebSocketSinkConfig(ingest_url(base(embedded), TEST_SITE_TOKEN), initial_backoff_s=0.05)
    )
    await sink.start()
    try:
        async with RosBridge(sink) as bridge:
            yield bridge
    finally:
        await sink.aclose()


async def test_a_door_published_over_ros_reaches_socketio_and_rest_within_one_second(
    embedded: TestServer, site_bridge: Any, ros_process: Callable[..., RosProcess]
) -> None:
    client = await Subscriber().connect(base(embedded))
    try:
        await client.subscribe("/doors/door_a/state")
        ros_process("publish_site.py", "door")
        await eventually(lambda: client.of("/doors/door_a/state"), timeout=15)
        latest = client.of("/doors/door_a/state")[-1]
        stamp = latest["door_time"]["sec"] + latest["door_time"]["nanosec"] / 1e9
        # The site publishes at 10 Hz, stamped at publication: the newest state
        # a subscriber holds is never more than a second old.
        assert time.time() - stamp < 1.0
        assert latest["current_mode"] == {"value": 2}
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base(embedded)}/doors/door_a/state") as response:
                assert response.status == 200
                assert (await response.json())["door_name"] == "door_a"
    finally:
        await client.sio.disconnect()


async def test_the_map_published_over_ros_is_served_with_its_image_by_url(
    embedded: TestServer, site_bridge: Any, ros_process: Callable[..., RosProcess]
) -> None:
    ros_process("publish_site.py", "map")
    async with aiohttp.ClientSession() as http:

        async def building_map() -> dict[str, Any] | None:
            async with http.get(f"{base(embedded)}/building_map") as response:
                return await response.json() if response.status == 200 else None

        site: dict[str, Any] = await eventually(building_map, timeout=15)  # type: ignore[arg-type]
        assert site["name"] == "test_site"
        url = site["levels"][0]["images"][0]["data"]
        assert not url.startswith("data:")
        async with http.get(url if url.startswith("http") else base(embedded) + url) as image:
            assert image.status == 200
            assert (await image.read()).startswith(b"\x89PNG\r\n\x1a\n")


async def test_the_site_bridge_process_pushes_what_it_receives_to_the_hub(
    embedded: TestServer, ros_process: Callable[..., RosProcess]
) -> None:
    env = {
        **os.environ,
        "FLEETHUB_HUB_URL": base(embedded),
        "FLEETHUB_LOG_LEVEL": "WARNING",
        "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
    }
    bridge = await asyncio.create_subprocess_exec(sys.executable, "-m", "ros_bridge", env=env)
    client = await Subscriber().connect(base(embedded))
    try:
        await client.subscribe("/lifts/lift_1/state")
        ros_process("publish_site.py", "lift")
        await eventually(lambda: client.of("/lifts/lift_1/state"), timeout=20)
        assert client.of("/lifts/lift_1/state")[-1]["destination_floor"] == "L2"
    finally:
        await client.sio.disconnect()
        bridge.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(bridge.wait(), 10) == 0
