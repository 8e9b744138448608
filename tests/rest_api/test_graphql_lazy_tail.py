"""An API process reads the bus only while it has GraphQL subscriptions.

The API app runs on a loopback port on its own Redis bus, in both passes
(the in-process bus has no tail to stop); the tests play the hub on a second
bus under the same key prefix and watch the API bus's tail connection in
Redis's ``CLIENT LIST``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio
from gql import Client as GqlClient
from gql import GraphQLRequest

from fleetcore.bus.redis import RedisStreamsBus
from fleetcore.contract.rooms import FLEET_STATE
from fleetcore.settings import Settings
from rest_api.app import create_app
from tests.bus.conftest import reachable_redis
from tests.rest_api.conftest import EPOCH, AiohttpClient, Client, FakeHub
from tests.rest_api.test_graphql_subscriptions import _event, _take, _transport

WAIT = 30.0
EVENTS_SINCE = """
subscription($since: Long, $epoch: Long) { events(since: $since, epoch: $epoch) { seq data } }
"""

pytestmark = pytest.mark.integration


@pytest.fixture
async def raw() -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(reachable_redis())
    yield client
    await client.aclose()


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[FakeHub]:
    bus = RedisStreamsBus(reachable_redis(), prefix=settings.redis_prefix)
    await bus.start()
    yield FakeHub(bus)
    await bus.aclose()


@pytest.fixture
def api_bus(settings: Settings) -> RedisStreamsBus:
    return RedisStreamsBus(reachable_redis(), prefix=settings.redis_prefix)


@pytest.fixture
async def api(
    aiohttp_client: AiohttpClient, settings: Settings, api_bus: RedisStreamsBus, database: None
) -> Client:
    """The API app on its own bus (started and closed by the app, as in a real API process)."""
    return await aiohttp_client(create_app(settings, api_bus, manage_database=False))


async def _tailing(raw: redis.asyncio.Redis, bus: RedisStreamsBus) -> bool:
    clients: list[dict[str, Any]] = await raw.client_list()
    return any(c["name"] == f"{bus.client_name}:tail" for c in clients)


async def _until_not_tailing(raw: redis.asyncio.Redis, bus: RedisStreamsBus) -> None:
    deadline = time.monotonic() + WAIT
    while await _tailing(raw, bus):
        assert time.monotonic() < deadline, "the API's bus still tails with no subscription"
        await asyncio.sleep(0.05)


async def test_an_api_process_without_subscriptions_does_not_read_the_bus(
    hub: FakeHub, api: Client, api_bus: RedisStreamsBus, raw: redis.asyncio.Redis
) -> None:
    await _event(hub, 0)
    async with api.get("/healthz") as response:
        assert response.status == 200

    assert not await _tailing(raw, api_bus)


async def test_the_first_subscription_receives_live_updates_and_the_last_stops_the_reading(
    hub: FakeHub, api: Client, api_bus: RedisStreamsBus, raw: redis.asyncio.Redis
) -> None:
    room = FLEET_STATE.format(name="fleet")
    await hub.publish(room, {"name": "fleet", "robots": {}})
    request = GraphQLRequest(
        'subscription { fleetState(name: "fleet") { seq data } }', variable_values={}
    )
    updates: list[dict[str, Any]] = []
    async with GqlClient(transport=_transport(api)) as session:
        async for result in session.subscribe(request):
            updates.append(result["fleetState"])
            if len(updates) == 1:  # the sticky value: the subscription is live
                assert await _tailing(raw, api_bus)
                live = await hub.publish(room, {"name": "fleet", "robots": {"r1": {}}})
            elif updates[-1]["seq"] == live.seq:
                break

    assert updates[-1]["data"]["robots"] == {"r1": {}}
    await _until_not_tailing(raw, api_bus)


async def test_a_subscription_resumes_with_since_after_the_reading_stopped(
    hub: FakeHub, api: Client, api_bus: RedisStreamsBus, raw: redis.asyncio.Redis
) -> None:
    await _event(hub, 0)
    (seen,) = await _take(api, GraphQLRequest(EVENTS_SINCE, variable_values={"since": 0}), 1)
    await _until_not_tailing(raw, api_bus)
    missed = [await _event(hub, index) for index in range(1, 3)]

    resumed = asyncio.create_task(
        _take(
            api,
            GraphQLRequest(EVENTS_SINCE, variable_values={"since": seen["seq"], "epoch": EPOCH}),
            3,
        )
    )
    while not await _tailing(raw, api_bus):
        assert not resumed.done(), resumed
        await asyncio.sleep(0.05)
    live = await _event(hub, 3)
    after = await asyncio.wait_for(resumed, WAIT)

    assert [update["seq"] for update in after] == [pub.seq for pub in (*missed, live)]
