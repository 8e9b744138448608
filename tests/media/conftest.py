"""The REST app on a real loopback port over the pass's database and bus, with a tus client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.bus import Bus
from fleetcore.settings import Settings
from rest_api.app import create_app
from tests.conftest import start_server
from tests.media.tus import TusClient

ROBOT = "fleet_a/r1"


@pytest.fixture
async def server(settings: Settings, bus: Bus, database: None) -> AsyncIterator[TestServer]:
    server = await start_server(
        create_app(settings, bus, manage_database=False), cancel_on_drop=False
    )
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def tus(session: aiohttp.ClientSession, base: str) -> TusClient:
    """Authentication is off in ``settings``: the client uploads as the admin."""
    return TusClient(session, base)
