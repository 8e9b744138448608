"""`fleethub up` as a user runs it: a real process, the simulator, REST and socket.io.

With authentication on, as shipped: the test logs in as the administrator
whose generated password the first start printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import eventually
from tests.helpers import Subscriber

pytestmark = pytest.mark.integration


@dataclass
class Up:
    base: str
    admin_password: str
    output: list[str]


async def _first_admin_password(stdout: asyncio.StreamReader, output: list[str]) -> str:
    """Read the console until the banner, which comes once the port listens; return the
    password the first-run notice printed before it."""
    password = None
    while True:
        line = (await asyncio.wait_for(stdout.readline(), 30)).decode()
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
    port_file = tmp_path / "ports.json"
    env = {
        **os.environ,
        "FLEETHUB_DATA_DIR": str(tmp_path),
        "FLEETHUB_API_PORT": "0",
        "FLEETHUB_PORT_FILE": str(port_file),
    }
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
        port = json.loads(port_file.read_text())["api"]  # written before the banner
        yield Up(f"http://127.0.0.1:{port}", password, output)
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


async def test_ten_simulated_robots_are_listed_and_stream(fleethub_up: Up) -> None:
    base = fleethub_up.base
    async with aiohttp.ClientSession() as session:
        token = await login(session, fleethub_up)
        async with session.get(base + "/fleets") as anonymous:
            assert anonymous.status == 401

        async def ten_robots() -> list[dict[str, Any]]:
            listed = await fleets(session, base, token)
            # The RMF fleets; the VDA 5050 vehicles beside them are tests/vda5050's.
            robots = sum(len(f["robots"]) for f in listed if f["name"] != "vda5050")
            return listed if robots == 10 else []

        listed: list[dict[str, Any]] = await eventually(ten_robots, timeout=30.0, interval=0.05)
    rooms = [f"/fleets/{f['name']}/state" for f in listed]
    client = await Subscriber(token=token).connect(base)
    try:
        for room in rooms:
            await client.subscribe(room)
        await eventually(lambda: all(client.of(room) for room in rooms), timeout=30.0)
        await eventually(lambda: all(len(client.of(room)) >= 6 for room in rooms), timeout=30.0)

        def poses(state: dict[str, Any]) -> dict[str, tuple[float, float]]:
            return {r: (s["location"]["x"], s["location"]["y"]) for r, s in state["robots"].items()}

        moved = [room for room in rooms if poses(client.of(room)[0]) != poses(client.of(room)[-1])]
        assert moved, "no robot moved in 3 s of updates"
    finally:
        await client.close()
