"""A REST app over a real loopback socket, on the pass's database and bus.

SQLite and the in-process bus in the first pass, PostgreSQL and Redis in the
second (``database`` and ``bus``, tests/conftest.py). Tests play the hub:
they publish on the bus and write rows with the store models, then read them
back over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from gql import Client as GqlClient
from gql.client import AsyncClientSession
from gql.transport.aiohttp import AIOHTTPTransport

from fleetcore.bus import Bus
from fleetcore.contract.rooms import TASK_STATE
from fleetcore.settings import Settings
from fleetcore.store import models as db
from rest_api.app import create_app
from tests.conftest import start_embedded
from tests.helpers import StandInHub

Client = TestClient[web.Request, web.Application]
AiohttpClient = Callable[..., Awaitable[Client]]

NOW_MS = 1_700_000_000_000
EPOCH = 3


class FakeHub(StandInHub):
    """Publishes and writes as the hub does: ascending seqs, rows stamped with them."""

    def __init__(self, bus: Bus) -> None:
        super().__init__(bus, epoch=EPOCH, received_ms=lambda: NOW_MS)

    async def task(
        self,
        task_id: str,
        *,
        status: str = "queued",
        category: str = "patrol",
        assigned_to: str | None = None,
        requester: str | None = None,
        start: int | None = None,
        finish: int | None = None,
        requested: int | None = None,
        labels: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Write a task's state row and labels, and publish its state room."""
        data: dict[str, Any] = {
            "booking": {"id": task_id, "labels": list(labels)},
            "category": category,
            "status": status,
        }
        if requester is not None:
            data["booking"]["requester"] = requester
        if requested is not None:
            data["booking"]["unix_millis_request_time"] = requested
        if assigned_to is not None:
            data["assigned_to"] = {"group": "fleet", "name": assigned_to}
        if start is not None:
            data["unix_millis_start_time"] = start
        if finish is not None:
            data["unix_millis_finish_time"] = finish
        pub = await self.publish(TASK_STATE.format(task_id=task_id), data)
        await db.TaskState.create(
            id=task_id,
            category=category,
            assigned_group="fleet" if assigned_to else None,
            assigned_to=assigned_to,
            status=status,
            requester=requester,
            unix_millis_start_time=start,
            unix_millis_finish_time=finish,
            unix_millis_request_time=requested,
            data=pub.data_json.decode(),
            seq=pub.seq,
        )
        for label in labels:
            name, _, value = label.partition("=")
            await db.TaskLabel.create(
                task_id=task_id,
                label_name=name,
                label_value=value,
                unix_millis_request_time=requested,
            )
        return data


@pytest.fixture
def hub(bus: Bus) -> FakeHub:
    return FakeHub(bus)


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, settings: Settings, bus: Bus, database: None
) -> Client:
    return await aiohttp_client(create_app(settings, bus, manage_database=False))


@pytest.fixture
async def graphql(client: Client) -> AsyncIterator[AsyncClientSession]:
    """A GraphQL client (gql) of the app ``client`` serves."""
    transport = AIOHTTPTransport(url=str(client.make_url("/graphql")))
    async with GqlClient(transport=transport) as session:
        yield session


def position(response: Any) -> tuple[int, int]:
    return int(response.headers["X-Fleethub-Seq"]), int(response.headers["X-Fleethub-Epoch"])


@pytest.fixture
async def fuzzed_system(auth_settings: Settings) -> AsyncIterator[TestServer]:
    """The embedded system with auth on, for the fuzz runs (REST's and GraphQL's)."""
    # No site is connected: commands are answered 202 (pending) at once instead of after a wait.
    quick = auth_settings.replace(command_reply_timeout_s=0.01, command_site_wait_s=0.01)
    server = await start_embedded(quick)
    try:
        yield server
    finally:
        await server.close()
