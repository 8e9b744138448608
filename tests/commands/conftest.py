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
from gql import GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportQueryError
from prometheus_client import REGISTRY

from fleetcore.settings import Settings
from simulator import SimConfig, Simulation, SimulatorService
from simulator.robots import RobotProfile
from tests.conftest import eventually
from tests.helpers import TEST_SITE_TOKEN
from tests.processes import Front, PrivateRedis, Process, fleethub, wait_http

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
    """The stack's child processes, stopped in reverse order at the end.

    Each binds a port of its own; the hub (``hub``) sits behind ``front``, so its
    URL outlives a restart.
    """

    def __init__(self, env: dict[str, str], log_dir: Path, front: Front) -> None:
        self.env, self.log_dir, self.front = env, log_dir, front
        self.running: list[Process] = []

    async def start(self, name: str, command: str) -> Process:
        proc = await fleethub(name, command, self.env, self.log_dir).start()
        self.running.append(proc)
        if name == "hub":
            self.front.target = await proc.port("hub")
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
    redis = await PrivateRedis(tmp_path).start()
    front = await Front().start()
    env = {
        **os.environ,
        "FLEETHUB_DATABASE_URL": database_url,
        "FLEETHUB_REDIS_URL": redis.url,
        "FLEETHUB_DATA_DIR": str(tmp_path),
        "FLEETHUB_HUB_PORT": "0",
        "FLEETHUB_API_PORT": "0",
        "FLEETHUB_HUB_LEASE_S": "1",
        "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
        "FLEETHUB_AUTH_MODE": "off",
        **stack_env,
    }
    procs = Processes(env, tmp_path, front)
    try:
        migrate = await fleethub("migrate", "migrate", env, tmp_path).start()
        assert migrate.proc is not None and await migrate.proc.wait() == 0, migrate.output()
        await procs.start("hub", "hub")
        api = await procs.start("api", "api")
        hub_url, api_url = front.url, await api.url("api")
        await wait_http(hub_url + "/readyz")
        await wait_http(api_url + "/readyz")
        yield procs, hub_url, api_url
    finally:
        for proc in reversed(procs.running):
            await proc.stop()
            print(f"--- {proc.name}\n{proc.output()[-1500:]}")
        await front.aclose()
        await redis.stop()


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


async def graphql_field(session: AsyncClientSession, document: str, **variables: Any) -> Any:
    """The one root field a GraphQL ``document`` answers."""
    answer = await session.execute(GraphQLRequest(document, variable_values=variables))
    return next(iter(answer.values()))


async def graphql_refusal(session: AsyncClientSession, document: str, **variables: Any) -> Any:
    """The first error of a ``document`` that must be refused."""
    with pytest.raises(TransportQueryError) as refused:
        await graphql_field(session, document, **variables)
    assert refused.value.errors is not None
    return refused.value.errors[0]
