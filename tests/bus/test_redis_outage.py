"""A Redis outage is logged once when it begins and once when it ends, without tracebacks.

A private redis-server is stopped under a reading bus; while it is down, a
listener on its socket refuses every connection the bus retries (and counts
them); then Redis comes back and the bus reads again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from fleetcore.bus.redis import RedisStreamsBus
from tests.bus.test_redis import rooms_batch
from tests.conftest import eventually
from tests.processes import PrivateRedis

pytestmark = pytest.mark.integration


async def test_a_redis_outage_is_logged_once_when_it_begins_and_once_when_it_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "fleethub.bus")
    redis = await PrivateRedis(tmp_path).start()
    bus = RedisStreamsBus(redis.url, prefix="outage", block_ms=200)
    heard: list[int] = []

    async def hear(batch: object) -> None:
        heard.append(1)

    try:
        await eventually(_answers(redis.url), timeout=20)
        await bus.start()
        bus.add_listener(hear)
        await redis.kill()

        refused = 0

        async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal refused
            refused += 1
            writer.close()

        down = await asyncio.start_unix_server(refuse, path=str(redis.socket))
        await eventually(lambda: refused >= 3, timeout=30)
        down.close()
        await down.wait_closed()
        redis.socket.unlink(missing_ok=True)

        await redis.start()
        await eventually(lambda: "reading the stream works again" in caplog.text, timeout=30)
        await bus.publish(rooms_batch(1, 3))
        await eventually(lambda: heard, timeout=10)
    finally:
        await bus.aclose()
        await redis.stop()

    outage = [r for r in caplog.records if "reading the stream" in r.getMessage()]
    assert [r.levelname for r in outage] == ["WARNING", "WARNING"]
    assert "reading the stream failed" in outage[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records if r.name == "fleethub.bus")


def _answers(url: str) -> Callable[[], Awaitable[bool]]:
    async def ping() -> bool:
        client = Redis.from_url(url)
        try:
            return bool(await client.ping())
        except RedisError:
            return False
        finally:
            await client.aclose()

    return ping
