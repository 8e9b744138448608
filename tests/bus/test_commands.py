"""The command channel, once for the in-process channel and once on real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis
import redis.asyncio

from fleetcore.bus.commands_base import BACKOFF_INITIAL_S, CommandChannel
from fleetcore.bus.commands_memory import InMemoryCommandChannel
from fleetcore.bus.commands_redis import GROUP, RedisCommandChannel
from fleetcore.contract.commands import Command, CommandReply, CommandStatus
from tests.bus.conftest import reachable_redis
from tests.conftest import eventually

MakeChannel = Callable[..., Awaitable[CommandChannel]]


@contextlib.asynccontextmanager
async def channels(kind: str, prefix: str) -> AsyncIterator[MakeChannel]:
    """Makes channels of one kind: every in-process one is the same; each Redis one is new."""
    made: list[CommandChannel] = []
    shared = InMemoryCommandChannel()
    url = reachable_redis() if kind == "redis" else ""

    async def make(consumer: str = "hub", claim_idle_ms: int = 5000) -> CommandChannel:
        if not url:
            return shared
        channel = RedisCommandChannel(
            url, prefix=prefix, consumer=consumer, claim_idle_ms=claim_idle_ms, block_ms=100
        )
        await channel.start()
        made.append(channel)
        return channel

    try:
        yield make
    finally:
        for channel in [*made, shared]:
            await channel.aclose()
        if url:
            client = redis.asyncio.Redis.from_url(url)
            keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def make_channel(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[MakeChannel]:
    async with channels(request.param, prefix) as make:
        yield make


@pytest.fixture
async def make_redis_channel(prefix: str) -> AsyncIterator[MakeChannel]:
    """Redis only: an in-process channel lives and dies with its one hub, so hubs cannot hand over."""
    async with channels("redis", prefix) as make:
        yield make


def command(key: str) -> Command:
    return Command(
        key=key, kind="dispatch_task", body={"category": "patrol"}, requester="test", sent_ms=1
    )


async def test_a_sent_command_reaches_the_hub_and_its_reply_the_caller(
    make_channel: MakeChannel,
) -> None:
    api, hub = await make_channel(), await make_channel()
    received: list[Command] = []

    async def handle(cmds: list[Command]) -> None:
        received.extend(cmds)
        for cmd in cmds:
            await hub.reply(CommandReply(cmd.key, CommandStatus.DONE, {"task_id": "t1"}))

    hub.consume(handle)
    waiting = asyncio.create_task(api.wait_reply("k1", timeout=5))
    await api.send(command("k1"))
    reply = await waiting
    assert reply == CommandReply("k1", CommandStatus.DONE, {"task_id": "t1"})
    assert received == [command("k1")]


async def test_queued_commands_are_delivered_in_order_in_batches(make_channel: MakeChannel) -> None:
    api, hub = await make_channel(), await make_channel()
    batches: list[list[str]] = []

    async def handle(cmds: list[Command]) -> None:
        batches.append([cmd.key for cmd in cmds])

    for i in range(150):
        await api.send(command(f"k{i}"))
    hub.consume(handle)
    await eventually(lambda: sum(map(len, batches)) == 150)
    assert [key for batch in batches for key in batch] == [f"k{i}" for i in range(150)]
    assert len(batches) == 2  # what was queued, at most COMMAND_BATCH (100) at a time


async def test_a_reply_given_earlier_is_found_at_once(make_channel: MakeChannel) -> None:
    channel = await make_channel()
    await channel.reply(CommandReply("k1", CommandStatus.FAILED, {"error": "no fleet"}))
    assert await channel.wait_reply("k1", timeout=0.01) == CommandReply(
        "k1", CommandStatus.FAILED, {"error": "no fleet"}
    )


async def test_waiting_for_a_reply_that_never_comes_returns_none(make_channel: MakeChannel) -> None:
    channel = await make_channel()
    assert await channel.wait_reply("never", timeout=0.2) is None


async def test_a_command_a_dead_hub_never_acknowledged_goes_to_the_next_hub(
    make_redis_channel: MakeChannel,
) -> None:
    api = await make_redis_channel()
    dead = await make_redis_channel(consumer="hub-a", claim_idle_ms=200)
    started = asyncio.Event()

    async def hang(cmds: list[Command]) -> None:
        started.set()
        await asyncio.Event().wait()

    dead.consume(hang)
    await api.send(command("k1"))
    await asyncio.wait_for(started.wait(), 5)
    await dead.aclose()

    successor = await make_redis_channel(consumer="hub-b", claim_idle_ms=200)
    received: list[str] = []

    async def handle(cmds: list[Command]) -> None:
        received.extend(cmd.key for cmd in cmds)

    successor.consume(handle)
    await eventually(lambda: received == ["k1"])


async def test_an_acknowledged_command_is_not_delivered_again(
    make_redis_channel: MakeChannel, prefix: str
) -> None:
    api = await make_redis_channel()
    first = await make_redis_channel(consumer="hub-a", claim_idle_ms=100)
    seen: list[str] = []

    async def handle(cmds: list[Command]) -> None:
        seen.extend(cmd.key for cmd in cmds)

    first.consume(handle)
    await api.send(command("k1"))
    await eventually(lambda: seen == ["k1"])
    await first.aclose()
    second = await make_redis_channel(consumer="hub-b", claim_idle_ms=100)
    second.consume(handle)
    await api.send(command("k2"))
    await eventually(lambda: seen == ["k1", "k2"])
    # Nothing is left pending in the group, so no hub can claim either command again.
    client = redis.asyncio.Redis.from_url(reachable_redis())
    try:
        await eventually(lambda: _nothing_pending(client, f"{prefix}:commands"), timeout=5)
    finally:
        await client.aclose()
    assert seen == ["k1", "k2"]


async def test_a_batch_whose_handler_failed_is_handed_over_again(
    make_channel: MakeChannel,
) -> None:
    api, hub = await make_channel(), await make_channel()
    failures = 2
    attempts: list[list[str]] = []

    async def handle(cmds: list[Command]) -> None:
        nonlocal failures
        attempts.append([cmd.key for cmd in cmds])
        if failures:
            failures -= 1
            raise RuntimeError("the store is away")

    hub.consume(handle)
    await api.send(command("k1"))
    await eventually(lambda: len(attempts) == 3)
    assert attempts == [["k1"], ["k1"], ["k1"]]


async def _nothing_pending(client: redis.asyncio.Redis, stream: str) -> bool:
    summary: dict[str, Any] = await client.xpending(stream, GROUP)
    return bool(summary["pending"] == 0)


async def test_after_recovering_the_consumer_backs_off_from_the_first_step_again(
    make_redis_channel: MakeChannel, caplog: pytest.LogCaptureFixture
) -> None:
    api, hub = await make_redis_channel(), await make_redis_channel()
    failures = {"k1": 4, "k2": 1}
    handled: list[str] = []

    async def handle(cmds: list[Command]) -> None:
        for cmd in cmds:
            if failures[cmd.key]:
                failures[cmd.key] -= 1
                raise RuntimeError(f"the handler failed on {cmd.key}")
        handled.extend(cmd.key for cmd in cmds)

    caplog.set_level(logging.DEBUG, logger="fleethub.bus")
    hub.consume(handle)
    await api.send(command("k1"))
    await eventually(lambda: handled == ["k1"])
    await api.send(command("k2"))
    await eventually(lambda: handled == ["k1", "k2"])
    waits = [float(wait) for wait in re.findall(r"retrying in ([0-9.]+)s", caplog.text)]
    assert len(waits) == 5
    assert waits[3] > BACKOFF_INITIAL_S, "four failures in a row: the waits grew"
    assert waits[4] <= BACKOFF_INITIAL_S, "the first failure after a success waits the least"


async def test_closing_ends_a_consumer_whose_handler_absorbed_the_cancellation(
    make_channel: MakeChannel,
) -> None:
    # Python 3.11's asyncio.wait_for, under redis-py's sends and asyncpg's queries,
    # absorbs a cancellation that lands as its operation completes; the handler
    # below does the same on purpose, so closing must cancel until the consumer ends.
    api, hub = await make_channel(), await make_channel()
    started, absorbed = asyncio.Event(), asyncio.Event()

    async def absorb(cmds: list[Command]) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            absorbed.set()

    hub.consume(absorb)
    await api.send(command("k1"))
    await asyncio.wait_for(started.wait(), 5)
    closing = asyncio.create_task(hub.aclose())
    # Not wait_for: cancelling aclose on timeout would cancel the consumer once more.
    done, _ = await asyncio.wait({closing}, timeout=2)
    closing.cancel()
    assert done == {closing}
    assert absorbed.is_set()
