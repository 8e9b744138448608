"""Buses for the contract suite: every test runs on the in-process bus and on real Redis.

Redis comes from ``FLEETHUB_TEST_REDIS_URL`` (default: the local server).
Each test gets its own key prefix and deletes its keys afterwards. When Redis
is unreachable the Redis cases fail under CI (``CI=true``) and are skipped
elsewhere, with the reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
import redis
import redis.asyncio

from fleetcore.bus.base import Archive, Bus
from fleetcore.bus.memory import InMemoryBus
from fleetcore.bus.redis import RedisStreamsBus
from fleetcore.contract.envelope import Publication

REDIS_URL = os.environ.get("FLEETHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

MakeBus = Callable[..., Awaitable[Bus]]
"""Builds and starts a bus; on Redis, every bus of one test shares one key prefix."""


def reachable_redis() -> str:
    """The test Redis URL; skip when it is unreachable (fail under CI)."""
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2) as client:
            client.ping()
    except redis.RedisError as exc:
        message = f"Redis at {REDIS_URL} is unreachable ({exc}); set FLEETHUB_TEST_REDIS_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    return reachable_redis()


@pytest.fixture
def prefix() -> str:
    return f"fleethub-test-{secrets.token_hex(6)}"


@pytest.fixture
async def raw_redis(redis_url: str, prefix: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A plain client on the test's Redis; deletes the test's keys at teardown."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def make_redis_bus(
    raw_redis: redis.asyncio.Redis, redis_url: str, prefix: str
) -> AsyncIterator[Callable[..., Awaitable[RedisStreamsBus]]]:
    made: list[RedisStreamsBus] = []

    async def make(**options: Any) -> RedisStreamsBus:
        bus = RedisStreamsBus(redis_url, prefix=prefix, **options)
        made.append(bus)
        await bus.start()
        return bus

    yield make
    for bus in made:
        await bus.aclose()


@pytest.fixture
async def make_memory_bus() -> AsyncIterator[MakeBus]:
    made: list[InMemoryBus] = []

    async def make(replay_window: int = 1000, archive: Archive | None = None) -> Bus:
        bus = InMemoryBus(replay_window, archive=archive)
        made.append(bus)
        await bus.start()
        return bus

    yield make
    for bus in made:
        await bus.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def make_bus(request: pytest.FixtureRequest) -> MakeBus:
    factory: MakeBus = request.getfixturevalue(f"make_{request.param}_bus")
    return factory


@pytest.fixture
async def bus(make_bus: MakeBus) -> Bus:
    return await make_bus()


class Received:
    """A listener that records what it is given, flattened, and every resync."""

    def __init__(self) -> None:
        self.batches: list[list[Publication]] = []
        self.resyncs: list[str] = []
        self.timeline: list[int | str] = []
        """Seqs and resync reasons, in the order they arrived."""

    @property
    def publications(self) -> list[Publication]:
        return [pub for batch in self.batches for pub in batch]

    @property
    def seqs(self) -> list[int]:
        return [pub.seq for pub in self.publications]

    async def __call__(self, batch: Any) -> None:
        self.batches.append(list(batch))
        self.timeline += (pub.seq for pub in batch)

    async def on_resync(self, reason: str) -> None:
        self.resyncs.append(reason)
        self.timeline.append(reason)

    def attach(self, bus: Bus) -> Received:
        bus.add_listener(self)
        bus.add_resync_listener(self.on_resync)
        return self


def pub(room: str, seq: int, epoch: int = 1, **data: Any) -> Publication:
    """A publication as the hub would make it; ``data`` defaults to ``{"seq": seq}``."""
    return Publication(
        room, seq, epoch, 1_700_000_000_000 + seq, orjson.dumps(data or {"seq": seq})
    )
