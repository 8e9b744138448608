"""When Redis loses the bus's data, the hub puts every room's last value back."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from fleetcore.settings import Settings
from tests.conftest import TEST_REDIS_URL, eventually
from tests.helpers import IngestClient, Subscriber, fleet

pytestmark = pytest.mark.skipif(not TEST_REDIS_URL, reason="needs FLEETHUB_TEST_REDIS_URL")


async def test_sticky_values_come_back_after_redis_lost_its_keys(
    embedded: TestServer, settings: Settings
) -> None:
    base = str(embedded.make_url("")).rstrip("/")
    door = {"door_name": "main", "current_mode": {"value": 2}}
    async with IngestClient(base) as ingest:
        await ingest.send("door_state_update", door)
        await ingest.send("fleet_state_update", fleet("f1", {"r1": (1.0, 0.0)}))
        watcher = await Subscriber().connect(base)
        await watcher.subscribe("/fleets/f1/state")
        await watcher.subscribe("/tasks/t1/log")
        await eventually(lambda: watcher.of("/fleets/f1/state"))

        redis = Redis.from_url(TEST_REDIS_URL)
        keys = [k async for k in redis.scan_iter(match=settings.redis_prefix + ":*")]
        await redis.delete(*keys)
        await redis.aclose()

        await ingest.send("fleet_state_update", fleet("f1", {"r1": (2.0, 0.0)}))
        async with aiohttp.ClientSession() as http:

            async def f1_moved() -> bool:
                async with http.get(base + "/fleets/f1/state") as resp:
                    state = await resp.json() if resp.status == 200 else None
                return bool(state and state["robots"]["r1"]["location"]["x"] == 2.0)

            async def door_back() -> bool:
                async with http.get(base + "/doors/main/state") as resp:
                    state = await resp.json() if resp.status == 200 else None
                return bool(state and state["current_mode"] == {"value": 2})

            # The new fleet state may be published before the hub has noticed the loss and put
            # the other rooms back: each comes back, in whichever order.
            await eventually(f1_moved)
            await eventually(door_back)
        await eventually(lambda: watcher.resyncs)
        assert [r["room"] for r in watcher.resyncs] == ["/tasks/t1/log"], (
            "log rooms resync, state rooms need not"
        )
        await watcher.close()
