"""What only the Redis bus has to show: several processes, lost connections, lost data."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio

from fleetcore.bus.redis import RedisStreamsBus
from fleetcore.contract.envelope import Publication, StreamPosition
from fleetcore.errors import BusError, UnrecoverablePosition
from fleetcore.settings import Settings
from tests.bus.conftest import Received, pub
from tests.conftest import eventually

MakeRedisBus = Callable[..., Awaitable[RedisStreamsBus]]
FLEET = "/fleets/a/state"
LOG = "/tasks/t1/log"


def rooms_batch(first_seq: int, size: int) -> list[Publication]:
    """A batch over state and log rooms of several templates, as the hub would publish."""
    rooms = ("/fleets/a/state", "/fleets/b/state", "/tasks/t1/log", "/doors/d/state", "/events")
    return [pub(rooms[seq % len(rooms)], seq) for seq in range(first_seq, first_seq + size)]


@pytest.mark.integration
async def test_a_second_bus_on_the_same_redis_receives_everything_in_order(
    make_redis_bus: MakeRedisBus,
) -> None:
    hub, reader = await make_redis_bus(), await make_redis_bus()
    received = Received().attach(reader)
    published = [p for b in range(50) for p in rooms_batch(1 + 20 * b, 20)]
    for start in range(0, len(published), 20):
        await hub.publish(published[start : start + 20])

    await eventually(lambda: len(received.seqs) >= len(published), timeout=10)
    assert received.publications == published
    assert received.resyncs == []


@pytest.mark.integration
async def test_a_reader_starts_at_the_publications_after_its_start(
    make_redis_bus: MakeRedisBus,
) -> None:
    hub = await make_redis_bus()
    await hub.publish([pub(FLEET, 1)])
    reader = await make_redis_bus()
    received = Received().attach(reader)
    await hub.publish([pub(FLEET, 2)])

    await eventually(lambda: received.seqs == [2])


async def _kill_tail_connection(raw: redis.asyncio.Redis, bus: RedisStreamsBus) -> None:
    clients: list[dict[str, Any]] = await raw.client_list()
    ids = [c["id"] for c in clients if c["name"] == f"{bus.client_name}:tail"]
    assert len(ids) == 1, f"expected one tail connection, found {ids}"
    await raw.client_kill_filter(_id=ids[0])


@pytest.mark.integration
async def test_the_tail_resumes_after_losing_its_connection_without_gap_or_duplicate(
    make_redis_bus: MakeRedisBus,
    raw_redis: redis.asyncio.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub, reader = await make_redis_bus(), await make_redis_bus()
    received = Received().attach(reader)
    await hub.publish(rooms_batch(1, 10))
    await eventually(lambda: len(received.seqs) == 10)

    await _kill_tail_connection(raw_redis, reader)
    for first in (11, 21, 31):
        await hub.publish(rooms_batch(first, 10))

    await eventually(lambda: len(received.seqs) >= 40)
    await eventually(lambda: "reading the stream failed" in caplog.text)
    assert received.seqs == list(range(1, 41))
    assert received.resyncs == []


@pytest.mark.integration
async def test_a_reader_never_sees_a_publication_before_its_sticky_value(
    make_redis_bus: MakeRedisBus,
) -> None:
    hub, reader = await make_redis_bus(), await make_redis_bus()
    seen: list[int] = []
    behind: list[int] = []

    async def check(batch: Any) -> None:
        for p in batch:
            held = await reader.sticky(p.room)
            if held is None or held.seq < p.seq:
                behind.append(p.seq)
            seen.append(p.seq)

    reader.add_listener(check)
    for first in range(1, 1001, 5):
        # A new room per publication: a sticky value written after its
        # stream entry would be missing, not merely old.
        await hub.publish([pub(f"/tasks/t{seq}/state", seq) for seq in range(first, first + 5)])

    await eventually(lambda: len(seen) >= 1000, timeout=15)
    assert behind == []


@pytest.mark.integration
async def test_an_exact_retry_of_an_applied_batch_is_accepted_and_applied_once(
    make_redis_bus: MakeRedisBus,
) -> None:
    hub, reader = await make_redis_bus(), await make_redis_bus()
    received = Received().attach(reader)
    batch = [pub(FLEET, 1), pub(LOG, 2)]
    await hub.publish(batch)
    await hub.publish(batch)
    await hub.publish([pub(FLEET, 3)])

    await eventually(lambda: received.seqs == [1, 2, 3])
    assert [p.seq for p in await hub.history(LOG, 0)] == [2]


@pytest.mark.integration
async def test_readers_resync_when_redis_loses_the_bus(
    make_redis_bus: MakeRedisBus, raw_redis: redis.asyncio.Redis, prefix: str
) -> None:
    hub, reader = await make_redis_bus(), await make_redis_bus(block_ms=100)
    received = Received().attach(reader)
    await hub.publish([pub(FLEET, 1)])
    await eventually(lambda: received.seqs == [1])

    # A Redis restarted empty: the keys are gone and so are the connections.
    await raw_redis.delete(*[k async for k in raw_redis.scan_iter(match=f"{prefix}:*")])
    await _kill_tail_connection(raw_redis, reader)
    await hub.publish([pub(FLEET, 2)])

    await eventually(lambda: received.seqs == [1, 2])
    assert received.timeline == [1, received.resyncs[0], 2]
    assert "reset" in received.resyncs[0]


@pytest.mark.integration
async def test_a_reader_that_falls_behind_the_stream_is_told_to_resync(
    make_redis_bus: MakeRedisBus,
) -> None:
    hub = await make_redis_bus(stream_keep=10, read_count=5)
    reader = await make_redis_bus(read_count=5)
    received = Received().attach(reader)
    gate = asyncio.Event()

    async def stalled(batch: Any) -> None:
        await gate.wait()

    reader.add_listener(stalled)
    await hub.publish([pub(FLEET, 1)])
    await eventually(lambda: received.seqs == [1])
    for seq in range(2, 61):
        await hub.publish([pub(FLEET, seq)])
    gate.set()

    await eventually(lambda: received.seqs[-1:] == [60])
    assert received.timeline[1] == received.resyncs[0]
    assert "trimmed" in received.resyncs[0]


@pytest.mark.integration
async def test_a_restore_ahead_of_the_bus_marks_the_gap_for_readers_and_history(
    make_redis_bus: MakeRedisBus,
) -> None:
    hub, reader = await make_redis_bus(), await make_redis_bus()
    received = Received().attach(reader)
    await hub.restore([], StreamPosition(0, 1))
    await hub.publish([pub(LOG, 1), pub(LOG, 2)])
    # The hub committed 3..5, stopped before publishing them, and restarted.
    await hub.restore([], StreamPosition(5, 2))
    await hub.publish([pub(LOG, 6, epoch=2)])

    await eventually(lambda: 6 in received.timeline)
    assert received.timeline == [1, 2, received.resyncs[0], 6]
    assert "never reached the bus" in received.resyncs[0]
    with pytest.raises(UnrecoverablePosition):
        await reader.history(LOG, 2)
    assert [p.seq for p in await reader.history(LOG, 5)] == [6]


@pytest.mark.integration
async def test_from_settings_uses_the_prefix_and_the_replay_window(
    redis_url: str, prefix: str, raw_redis: redis.asyncio.Redis
) -> None:
    settings = Settings(redis_url=redis_url, redis_prefix=prefix, replay_window=2)
    bus = RedisStreamsBus.from_settings(settings)
    try:
        await bus.start()
        await bus.restore([], StreamPosition(0, 1))
        await bus.publish([pub(LOG, 1), pub(LOG, 2), pub(LOG, 3)])

        assert [p.seq for p in await bus.history(LOG, 1)] == [2, 3]
        assert await raw_redis.exists(f"{prefix}:top") == 1
    finally:
        await bus.aclose()


async def test_starting_without_a_reachable_redis_raises_bus_error() -> None:
    bus = RedisStreamsBus("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(BusError, match="connecting to Redis"):
            await bus.start()
    finally:
        await bus.aclose()


def test_a_read_count_the_stream_could_outrun_is_refused() -> None:
    with pytest.raises(BusError, match="read_count"):
        RedisStreamsBus("redis://127.0.0.1:1/0", stream_keep=100, read_count=100)
