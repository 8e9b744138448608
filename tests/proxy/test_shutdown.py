"""A proxy that stops tells its clients, which reconnect by themselves (through the load balancer)."""

from __future__ import annotations

from typing import Any

import pytest
import socketio
from aiohttp.test_utils import TestServer

from fleetcore.bus.memory import InMemoryBus
from fleetcore.settings import Settings
from fleetcore.store.db import close_database, open_database
from proxy.app import create_app
from tests.conftest import eventually
from tests.ports import HeldPort


@pytest.fixture
async def migrated(settings: Settings) -> None:
    """The proxy reads retired rooms from the database: it refuses one not migrated."""
    await open_database(settings.resolved_database_url, apply_migrations=True)
    await close_database()


@pytest.mark.usefixtures("migrated")
async def test_a_stopping_proxy_announces_it_and_its_clients_reconnect_to_the_next_one(
    settings: Settings, held_port: HeldPort
) -> None:
    bus = InMemoryBus()
    port = held_port.port
    first = TestServer(create_app(settings, bus), socket_factory=held_port.socket)
    await first.start_server()
    client = socketio.AsyncClient(
        reconnection=True, reconnection_delay=0.1, reconnection_delay_max=0.2
    )
    notices: list[Any] = []
    connects: list[str] = []
    client.on("shutdown", notices.append)

    async def connected() -> None:
        connects.append(client.get_sid() or "")

    client.on("connect", connected)

    await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
    await first.close()
    assert notices == [{"reason": "proxy shutting down", "reconnect": True}]
    second = TestServer(create_app(settings, bus), socket_factory=held_port.socket)
    await second.start_server()
    try:
        await eventually(lambda: len(connects) == 2)
        assert connects[0] != connects[1]
    finally:
        await client.disconnect()
        await second.close()
