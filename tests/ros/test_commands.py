"""Commands through ros_bridge: REST → hub → bridge → RMF's topics, and RMF's answer back.

Both deployments: ``fleethub bridge`` as its own process at a site (connected
out to the hub's /_internal), and the bridge inside the hub process
(``ros_bridge=True``). RMF is played by helper processes on real DDS.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.contract.commands import REQUEST_LABEL, request_id_for
from tests.helpers import TEST_SITE_TOKEN
from tests.ros.conftest import RosProcess, base, interrupt

pytestmark = [pytest.mark.ros, pytest.mark.integration]

Start = Callable[..., RosProcess]


async def bridge_process(hub_url: str) -> asyncio.subprocess.Process:
    """``fleethub bridge`` as a site runs it; returns once it is connected to the hub."""
    env = {
        **os.environ,
        "FLEETHUB_HUB_URL": hub_url,
        "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
        "FLEETHUB_LOG_LEVEL": "INFO",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleethub", "bridge", env=env, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    seen: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while b"connected to the hub at" not in (line := await proc.stderr.readline()):
                assert line, f"fleethub bridge exited: {b''.join(seen).decode()}"
                seen.append(line)
    except BaseException:
        await interrupt(proc)
        raise
    return proc


async def test_a_task_dispatched_over_rest_is_an_api_request_and_rmfs_answer_completes_the_call(
    embedded: TestServer, ros_process: Start
) -> None:
    responder = ros_process("task_responder.py")
    assert await responder.readline() == "ready"
    bridge = await bridge_process(base(embedded))
    try:
        key = "dispatch-over-ros-1"
        body = {
            "type": "dispatch_task_request",
            "request": {"category": "patrol", "description": {"places": ["pantry"], "rounds": 1}},
        }
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{base(embedded)}/tasks/dispatch_task", json=body, headers={"Idempotency-Key": key}
            ) as response:
                answer = await response.json()
                status = response.status
        line = await responder.readline()
        _, request_id, json_msg = line.split(" ", 2)
        assert request_id == request_id_for(key)
        sent = json.loads(json_msg)
        assert sent["type"] == "dispatch_task_request"
        assert sent["request"]["category"] == "patrol"
        assert sent["request"]["description"] == {"places": ["pantry"], "rounds": 1}
        assert f"{REQUEST_LABEL}={request_id}" in sent["request"]["labels"]
        assert status == 200
        assert answer == {"success": True, "state": {"booking": {"id": f"task-for-{request_id}"}}}
    finally:
        await interrupt(bridge)
    assert bridge.returncode == 0


async def post_until_heard(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], listener: RosProcess
) -> tuple[dict[str, Any], dict[str, Any]]:
    """POST until the listener prints what RMF received, and both answers.

    The listener's subscription is volatile, as RMF's supervisors' are: a
    request published before DDS matched it is not delivered, so a request
    (idempotent for a door or lift) is repeated until one is heard.
    """
    deadline = time.monotonic() + 30
    while True:
        async with http.post(url, json=body) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
        try:
            return answer, json.loads(await listener.readline(timeout=1.0))
        except AssertionError:
            assert time.monotonic() < deadline, "no request reached RMF's topic within 30s"


async def test_a_door_request_over_rest_reaches_adapter_door_requests_from_the_in_hub_bridge(
    hub_with_bridge: TestServer, ros_process: Start
) -> None:
    listener = ros_process("listen_requests.py")
    assert await listener.readline() == "ready"
    async with aiohttp.ClientSession() as http:
        answer, heard = await post_until_heard(
            http, f"{base(hub_with_bridge)}/doors/door_a/request", {"mode": 2}, listener
        )
    assert answer == {"success": True}
    assert heard == {"door_name": "door_a", "mode": 2, "requester_id": "fleethub_bridge"}


async def test_a_lift_request_over_rest_reaches_adapter_lift_requests_from_the_in_hub_bridge(
    hub_with_bridge: TestServer, ros_process: Start
) -> None:
    listener = ros_process("listen_requests.py")
    assert await listener.readline() == "ready"
    body = {"request_type": 1, "door_mode": 2, "destination": "L2"}
    async with aiohttp.ClientSession() as http:
        answer, heard = await post_until_heard(
            http, f"{base(hub_with_bridge)}/lifts/lift_1/request", body, listener
        )
    assert answer == {"success": True}
    assert heard == {
        "lift_name": "lift_1",
        "destination_floor": "L2",
        "session_id": "fleethub_bridge",
    }
