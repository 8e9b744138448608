"""How `fleethub up` behaves for a user: start-up time, delivery rate, memory.

Starts `fleethub up` as a real process with N simulated robots and logs in
as its first-run admin (the password it prints), as a new user does, then
reports: time from process start to all robots listed by GET /fleets, fleet-state
messages and robot updates per second delivered to one socket.io client
subscribed to every fleet, and the process's resident memory (RSS, from
/proc) after the measuring window. The baseline printed beside it is the
same process with the simulator publishing nothing (0 robots), measured in
the same run, so the ratio shows what the robots cost.

Reproduce: .venv/bin/python bench/embedded_up.py --robots 10 200 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import socketio

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Up:
    """A running `fleethub up`, logged in as its first-run admin, every robot listed."""

    proc: asyncio.subprocess.Process
    base: str
    token: str
    fleets: list[dict[str, Any]]
    first_visible_s: float

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@asynccontextmanager
async def fleethub_up(robots: int, wrapper: Sequence[str] = ()) -> AsyncIterator[Up]:
    """Start `fleethub up` with ``robots`` simulated robots in a fresh data dir; stop it after.

    ``wrapper`` goes between the interpreter and ``-m fleethub`` (e.g. ``bench/memprobe``'s).
    """
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="fleethub-bench-")
    env = {
        **os.environ,
        "FLEETHUB_DATA_DIR": data_dir,
        "FLEETHUB_API_PORT": str(port),
        "FLEETHUB_SIM_ROBOTS": str(robots),
        # The RMF simulator alone, as the figures in the README were measured.
        "FLEETHUB_VDA5050": "off",
        "FLEETHUB_LOG_LEVEL": "WARNING",
    }
    started = time.monotonic()
    module = [*wrapper, "fleethub"] if wrapper else ["-m", "fleethub"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *module, "up", env=env, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    assert proc.stdout is not None
    drain: asyncio.Task[bytes] | None = None
    base = f"http://127.0.0.1:{port}"
    try:
        password = await first_run_password(proc.stdout)
        drain = asyncio.create_task(proc.stdout.read())
        async with aiohttp.ClientSession() as session:
            token = await login(session, base, password)
            fleets = await listed(session, base, token, robots, started)
        yield Up(proc, base, token, fleets, time.monotonic() - started)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await proc.wait()
        if drain is not None:
            await drain


async def listed(
    session: aiohttp.ClientSession, base: str, token: str, robots: int, started: float
) -> list[dict[str, Any]]:
    """GET /fleets until it lists ``robots`` robots (60 s after ``started`` at most)."""
    while True:
        async with session.get(
            base + "/fleets", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            resp.raise_for_status()
            fleets: list[dict[str, Any]] = await resp.json()
        count = sum(len(f["robots"]) for f in fleets)
        if count >= robots:
            return fleets
        if time.monotonic() - started > 60:
            raise RuntimeError(f"only {count} of {robots} robots listed after 60 s")
        await asyncio.sleep(0.05)


class FleetSubscriber:
    """One socket.io client subscribed to every fleet's state, counting what it is sent."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.messages = 0
        self.robots = 0
        self.sio.on("*", self._on_any)  # by call: socket.io's untyped decorator would untype it

    async def _on_any(self, event: str, data: dict[str, Any]) -> None:
        self.messages += 1
        self.robots += len(data.get("robots", {}))

    async def connect(self, up: Up) -> None:
        await self.sio.connect(up.base, transports=["websocket"], auth={"token": up.token})
        for fleet in up.fleets:
            await self.sio.call("subscribe", {"room": f"/fleets/{fleet['name']}/state"})
        self.messages = self.robots = 0


async def measure(robots: int, seconds: float) -> dict[str, float]:
    async with fleethub_up(robots) as up:
        subscriber = FleetSubscriber()
        await subscriber.connect(up)
        await asyncio.sleep(seconds)
        result = {
            "first_visible_s": up.first_visible_s,
            "messages_per_s": subscriber.messages / seconds,
            "robot_updates_per_s": subscriber.robots / seconds,
            "rss_mb": rss_mb(up.proc.pid),
        }
        await subscriber.sio.disconnect()
    return result


async def first_run_password(stdout: asyncio.StreamReader) -> str:
    """The admin password a first start prints (a fresh data dir is a first start)."""
    while line := (await asyncio.wait_for(stdout.readline(), 60)).decode():
        found = re.search(r"password: (\S+)", line)
        if found:
            return found.group(1)
    raise RuntimeError("fleethub up exited without printing its first-run password")


async def login(session: aiohttp.ClientSession, base: str, password: str) -> str:
    """A bearer token for the first-run admin, retried until the REST API answers."""
    while True:
        try:
            async with session.post(
                base + "/auth/token", json={"username": "admin", "password": password}
            ) as resp:
                resp.raise_for_status()
                return str((await resp.json())["access_token"])
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.05)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--robots", type=int, nargs="+", default=[10, 200])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    baseline = await measure(0, args.seconds)
    print(
        f"baseline (0 robots): start-up {baseline['first_visible_s']:.2f} s, RSS {baseline['rss_mb']:.0f} MB"
    )
    for robots in args.robots:
        r = await measure(robots, args.seconds)
        print(
            f"{robots:4d} robots: all visible after {r['first_visible_s']:.2f} s "
            f"({r['first_visible_s'] / baseline['first_visible_s']:.2f}x baseline start-up); "
            f"{r['messages_per_s']:.1f} fleet states/s = {r['robot_updates_per_s']:.0f} robot updates/s "
            f"delivered; RSS {r['rss_mb']:.0f} MB ({r['rss_mb'] / baseline['rss_mb']:.2f}x baseline)"
        )


if __name__ == "__main__":
    asyncio.run(main())
