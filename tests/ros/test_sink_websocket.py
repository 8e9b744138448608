"""The site bridge's way to the hub: WebSocketSink against the real /_internal endpoint.

These need no ROS: the sink only speaks JSON over a websocket.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.settings import Settings
from ros_bridge.sink import WebSocketSink, WebSocketSinkConfig, ingest_url
from tests.conftest import eventually, fresh_database_url, fresh_redis_prefix
from tests.helpers import TEST_SITE_TOKEN, Subscriber
from tests.ros.conftest import door

pytestmark = pytest.mark.integration


def base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def sink(embedded: TestServer) -> AsyncIterator[WebSocketSink]:
    running = WebSocketSink(
        WebSocketSinkConfig(ingest_url(base(embedded), TEST_SITE_TOKEN), initial_backoff_s=0.05)
    )
    await running.start()
    try:
        yield running
    finally:
        await running.aclose()


def unserved_sink_config() -> tuple[int, WebSocketSinkConfig]:
    """A loopback port nobody listens on yet, and a fast-retrying sink config aimed at it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/_internal?token={TEST_SITE_TOKEN}"
    return port, WebSocketSinkConfig(url, initial_backoff_s=0.05, max_backoff_s=0.2)


def test_ingest_url_turns_the_hub_base_url_into_its_websocket_with_the_token() -> None:
    assert ingest_url("http://h:8100", "s3cret") == "ws://h:8100/_internal?token=s3cret"
    assert ingest_url("https://hub.example/base/") == "wss://hub.example/base/_internal"


async def test_a_submitted_door_state_reaches_socketio_subscribers(
    embedded: TestServer, sink: WebSocketSink
) -> None:
    await sink.wait_connected()
    client = await Subscriber().connect(base(embedded))
    try:
        await client.subscribe("/doors/door_a/state")
        await sink.submit(door("door_a", 2))
        await eventually(lambda: client.of("/doors/door_a/state"), timeout=1.0)
        assert client.of("/doors/door_a/state")[-1]["current_mode"] == {"value": 2}
    finally:
        await client.sio.disconnect()


async def test_a_frame_the_hub_rejects_is_counted_and_later_frames_still_land(
    embedded: TestServer, sink: WebSocketSink
) -> None:
    await sink.wait_connected()
    await sink.submit({"type": "door_state_update", "data": {"door_name": ""}})
    await eventually(lambda: sink.stats.rejected == 1)
    client = await Subscriber().connect(base(embedded))
    try:
        await client.subscribe("/doors/door_b/state")
        await sink.submit(door("door_b", 0))
        await eventually(lambda: client.of("/doors/door_b/state"))
    finally:
        await client.sio.disconnect()


async def test_state_submitted_while_the_hub_is_down_is_sent_when_it_comes_up(
    settings: Settings,
) -> None:
    from fleethub.embedded import create_app

    port, config = unserved_sink_config()
    async with contextlib.AsyncExitStack() as stack:
        server = TestServer(create_app(settings), host="127.0.0.1", port=port)
        sink = WebSocketSink(config)
        await sink.start()
        # Closed in reverse: the sink first, so the server has no connection to wait for.
        stack.push_async_callback(server.close)
        stack.push_async_callback(sink.aclose)
        await sink.submit(door("door_c", 1))
        await sink.submit(door("door_c", 2))
        await server.start_server()
        await sink.wait_connected()
        client = await Subscriber().connect(base(server))
        stack.push_async_callback(client.sio.disconnect)
        await client.subscribe("/doors/door_c/state")
        await eventually(lambda: client.of("/doors/door_c/state"))
        assert client.of("/doors/door_c/state")[-1]["current_mode"] == {"value": 2}


async def test_a_refused_site_token_is_logged_as_such_and_never_itself(
    embedded: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fleethub.bridge")
    wrong = "wrong-site-token-0123456789"
    config = WebSocketSinkConfig(ingest_url(base(embedded), wrong), initial_backoff_s=0.05)
    sink = WebSocketSink(config)
    await sink.start()
    try:
        await eventually(lambda: "the hub refused the site token" in caplog.text)
    finally:
        await sink.aclose()
    assert wrong not in caplog.text


async def test_after_losing_the_hub_the_sink_reconnects_and_resends_the_current_state(
    settings: Settings, tmp_path: Path
) -> None:
    from fleethub.embedded import create_app

    port, config = unserved_sink_config()
    sink = WebSocketSink(config)
    await sink.start()
    try:
        first = TestServer(create_app(settings), host="127.0.0.1", port=port)
        # The hub goes away at once, as one that crashed: no grace for open connections.
        await first.start_server(shutdown_timeout=0.1)
        await sink.wait_connected()
        await sink.submit(door("door_d", 2))
        await eventually(lambda: sink.stats.sent >= 1)
        await first.close()
        # A hub with an empty database and bus: it can only know the door from the sink.
        (tmp_path / "second").mkdir()
        async with (
            fresh_database_url(tmp_path / "second") as database_url,
            fresh_redis_prefix() as prefix,
        ):
            second = TestServer(
                create_app(settings.replace(database_url=database_url, redis_prefix=prefix)),
                host="127.0.0.1",
                port=port,
            )
            await second.start_server()
            try:
                await eventually(lambda: sink.client.connections == 2, timeout=10)
                async with aiohttp.ClientSession() as http:

                    async def door_state() -> dict[str, Any] | None:
                        async with http.get(f"{base(second)}/doors/door_d/state") as response:
                            return await response.json() if response.status == 200 else None

                    state = await eventually(door_state)
                assert state is not None and state["current_mode"] == {"value": 2}
            finally:
                await sink.aclose()
                await second.close()
    finally:
        await sink.aclose()
