"""`fleethub up` as a user runs it: a real process, the simulator, REST and socket.io.

With authentication on, as shipped: the test logs in as the administrator
whose generated password the first start printed.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import eventually
from tests.helpers import Subscriber

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Up:
    base: str
    started: float
    admin_password: str
    output: list[str]


async def _first_admin_password(stdout: asyncio.StreamReader, output: list[str]) -> str:
    """Read the console until the banner, which comes once the port listens; return the
    password the first-run notice printed before it."""
    password = None
    while True:
        line = (await asyncio.wait_for(stdout.readline(), 10)).decode()
        output.append(line)
        if not line:
            raise AssertionError("fleethub up stopped before its banner:\n" + "".join(output))
        found = re.search(r"password: (\S+)", line)
        if found:
            password = found.group(1)
        if line.startswith("fleethub is up"):
            assert password is not None, "no first-run password before the banner"
            return password


async def _drain(stdout: asyncio.StreamReader, output: list[str]) -> None:
    """Keep reading, so the process never blocks on a full pipe; kept for a failure message."""
    while line := await stdout.readline():
        output.append(line.decode())


@pytest.fixture
async def fleethub_up(tmp_path: Path) -> AsyncIterator[Up]:
    port = free_port()
    env = {**os.environ, "FLEETHUB_DATA_DIR": str(tmp_path), "FLEETHUB_API_PORT": str(port)}
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fleethub",
        "up",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output: list[str] = []
    drain: asyncio.Task[None] | None = None
    try:
        password = await _first_admin_password(proc.stdout, output)
        drain = asyncio.create_task(_drain(proc.stdout, output))
        yield Up(f"http://127.0.0.1:{port}", started, password, output)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if drain is not None:
            await drain
        assert proc.returncode == 0, "".join(output)[-2000:]


async def login(session: aiohttp.ClientSession, up: Up) -> str:
    """The first admin's token."""
    credentials = {"username": "admin", "password": up.admin_password}
    async with session.post(up.base + "/auth/token", json=credentials) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["access_token"])


async def fleets(session: aiohttp.ClientSession, base: str, token: str) -> list[dict[str, Any]]:
    try:
        async with session.get(
            base + "/fleets", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            if resp.status != 200:
                return []
            listed: list[dict[str, Any]] = await resp.json()
            return listed
    except aiohttp.ClientConnectionError:
        return []


async def test_ten_simulated_robots_are_listed_and_stream_within_five_seconds(
    fleethub_up: Up,
) -> None:
    base, started = fleethub_up.base, fleethub_up.started
    async with aiohttp.ClientSession() as session:
        token = await login(session, fleethub_up)
        async with session.get(base + "/fleets") as anonymous:
            assert anonymous.status == 401

        async def ten_robots() -> list[dict[str, Any]]:
            listed = await fleets(session, base, token)
            # The RMF fleets; the VDA 5050 vehicles beside them are tests/vda5050's.
            robots = sum(len(f["robots"]) for f in listed if f["name"] != "vda5050")
            return listed if robots == 10 else []

        listed: list[dict[str, Any]] = await eventually(ten_robots, timeout=5.0, interval=0.05)
    assert time.monotonic() - started < 5.0
    rooms = [f"/fleets/{f['name']}/state" for f in listed]
    client = await Subscriber(token=token).connect(base)
    try:
        subscribed = time.monotonic()
        for room in rooms:
            await client.subscribe(room)
        await eventually(lambda: all(client.of(room) for room in rooms), timeout=0.5)
        assert time.monotonic() - subscribed < 0.5
        await eventually(lambda: all(len(client.of(room)) >= 6 for room in rooms), timeout=5.0)

        def poses(state: dict[str, Any]) -> dict[str, tuple[float, float]]:
            return {r: (s["location"]["x"], s["location"]["y"]) for r, s in state["robots"].items()}

        moved = [room for room in rooms if poses(client.of(room)[0]) != poses(client.of(room)[-1])]
        assert moved, "no robot moved in 3 s of updates"
    finally:
        await client.close()
