"""The embedded system with a simulated site answering commands, or a test playing the site."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from fleetcore.settings import Settings
from simulator import SimConfig, Simulation, SimulatorService
from simulator.robots import RobotProfile
from tests.conftest import eventually
from tests.helpers import TEST_SITE_TOKEN
from tests.processes import Process, fleethub, free_port, redis_server, wait_http

FAR_PLACE = "room_102"
"""35 m from the only robot's charger: a task there lasts long enough to watch."""


@pytest.fixture
async def site(embedded: TestServer) -> AsyncIterator[SimulatorService]:
    """One fast robot in one fleet, connected to the embedded hub and answering its commands."""
    service = SimulatorService(
        Settings(
            hub_url=str(embedded.make_url("")).rstrip("/"),
            sim_rate_hz=20.0,
            ingest_token=TEST_SITE_TOKEN,
        ),
        simulation=Simulation(SimConfig(robots=1, fleets=1, profile=RobotProfile(speed_mps=10.0))),
        backoff_initial_s=0.05,
    )
    running = asyncio.create_task(service.run())
    await eventually(lambda: service.client.connected)
    try:
        yield service
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


@pytest.fixture
async def http(embedded: TestServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(str(embedded.make_url(""))) as session:
        yield session


class Processes:
    """The stack's child processes, stopped in reverse order at the end."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.running: list[Process] = []

    async def start(self, name: str, command: str) -> Process:
        proc = await fleethub(name, command, self.env, self.log_dir).start()
        self.running.append(proc)
        return proc


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Settings of the stack's processes a test module may override (define this fixture)."""
    return {"FLEETHUB_COMMAND_REPLY_TIMEOUT_S": "2"}


@pytest.fixture
async def stack(
    tmp_path: Path, database_url: str, stack_env: dict[str, str]
) -> AsyncIterator[tuple[Processes, str, str]]:
    """Redis, a migrated database, one hub and one api process; yields them, hub URL, api URL."""
    redis_port, hub_port, api_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "FLEETHUB_DATABASE_URL": database_url,
        "FLEETHUB_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "FLEETHUB_DATA_DIR": str(tmp_path),
        "FLEETHUB_HUB_PORT": str(hub_port),
        "FLEETHUB_API_PORT": str(api_port),
        "FLEETHUB_HUB_LEASE_S": "1",
        "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
        "FLEETHUB_AUTH_MODE": "off",
        **stack_env,
    }
    procs = Processes(env, tmp_path)
    procs.running.append(await redis_server(redis_port, tmp_path).start())
    try:
        migrate = await fleethub("migrate", "migrate", env, tmp_path).start()
        assert migrate.proc is not None and await migrate.proc.wait() == 0, migrate.output()
        await procs.start("hub", "hub")
        await procs.start("api", "api")
        hub_url, api_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{api_port}"
        await wait_http(hub_url + "/readyz")
        await wait_http(api_url + "/readyz")
        yield procs, hub_url, api_url
    finally:
        for proc in reversed(procs.running):
            await proc.stop()
            print(f"--- {proc.name}\n{proc.output()[-1500:]}")


def dispatch_body(place: str = FAR_PLACE) -> dict[str, Any]:
    return {
        "type": "dispatch_task_request",
        "request": {"category": "patrol", "description": {"places": [place]}, "requester": "t"},
    }


def ignored(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "fleethub_command_responses_ignored_total", {"reason": reason}
    )
    return value or 0.0
