"""The command channel on Redis: a stream the hub reads as a consumer group.

Keys under ``prefix``:

``{prefix}:commands``
    The command stream (field ``c``: the command JSON), read by the consumer
    group ``hub``. An entry is acknowledged only after the hub's handler
    returned; entries a dead hub left unacknowledged are claimed by the next
    hub after ``claim_idle_ms``.
``{prefix}:reply:<key>``
    The reply for an idempotency key, kept ``reply_ttl_s``.
``{prefix}:replies``
    Pub/sub channel announcing each new reply's key to waiting callers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from fleetcore.aio import cancel_and_wait
from fleetcore.backoff import Backoff
from fleetcore.bus.commands_base import (
    BACKOFF_INITIAL_S,
    BACKOFF_MAX_S,
    COMMAND_BATCH,
    CommandChannel,
    CommandHandler,
)
from fleetcore.contract.commands import Command, CommandReply
from fleetcore.errors import BusError
from fleetcore.log import bus_logger
from fleetcore.outage import Outage, describe
from fleetcore.settings import DEFAULTS

GROUP = "hub"


class RedisCommandChannel:
    """:param consumer: this hub's name in the consumer group (unique per hub process)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULTS.redis_prefix,
        consumer: str = "hub",
        claim_idle_ms: int = 5000,
        reply_ttl_s: int = 3600,
        stream_keep: int = 100_000,
        block_ms: int = 1000,
        max_connections: int = 2000,
    ) -> None:
        # redis-py 8 caps a pool at 100 connections and then raises; every caller waiting
        # for a reply holds one briefly, so a burst of hundreds of requests needs more.
        self._redis = Redis.from_url(url, max_connections=max_connections)
        self._stream = f"{prefix}:commands"
        self._reply_prefix = f"{prefix}:reply:"
        self._channel = f"{prefix}:replies"
        self._consumer_name = consumer
        self._claim_idle_ms = claim_idle_ms
        self._reply_ttl_s = reply_ttl_s
        self._keep = stream_keep
        self._block_ms = block_ms
        self._consumer: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._waiters: dict[str, list[asyncio.Future[CommandReply]]] = {}
        self._ready = asyncio.Event()

    async def start(self) -> None:
        try:
            await self._redis.ping()
        except RedisError as exc:
            raise BusError(f"connecting to Redis: {exc}") from exc

    async def send(self, command: Command) -> None:
        try:
            await self._redis.xadd(
                self._stream, {"c": command.to_json()}, maxlen=self._keep, approximate=True
            )
        except RedisError as exc:
            raise BusError(f"sending command {command.key}: {exc}") from exc

    def consume(self, handler: CommandHandler) -> None:
        if self._consumer is None:
            self._consumer = asyncio.create_task(self._run(handler), name="commands-consumer")

    async def _ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _run(self, handler: CommandHandler) -> None:
        """Own pending entries first, then a dead consumer's, then new ones; reconnect on errors.

        Every read handled without failing resets the backoff, so one bad
        spell does not slow the retries after the next one.
        """
        backoff = Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        outage = Outage(bus_logger, "reading commands")
        while True:
            try:
                await self._ensure_group()
                await self._drain(handler, "0")
                backoff.reset()
                while True:
                    await self._claim(handler)
                    await self._drain(handler, ">")
                    outage.recovered()
                    backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.next()
                outage.failed(exc, retry_in=delay)
                await asyncio.sleep(delay)

    async def _drain(self, handler: CommandHandler, start: str) -> None:
        """Handle what XREADGROUP returns from ``start``: '0' for our pending, '>' for new."""
        while True:
            # redis-py types the reply as a union of RESP2 and RESP3 shapes; this is RESP2's.
            reply: Any = await self._redis.xreadgroup(
                GROUP,
                self._consumer_name,
                {self._stream: start},
                count=COMMAND_BATCH,
                block=None if start == "0" else self._block_ms,
            )
            entries = reply[0][1] if reply else []
            if not entries:
                return
            await self._handle(handler, entries)
            if start == ">":
                return

    async def _claim(self, handler: CommandHandler) -> None:
        """Take over commands another (dead) hub read but never acknowledged."""
        answer: Any = await self._redis.xautoclaim(
            self._stream,
            GROUP,
            self._consumer_name,
            self._claim_idle_ms,
            "0-0",
            count=COMMAND_BATCH,
        )
        claimed = answer[1]
        await self._handle(handler, [(entry_id, fields) for entry_id, fields in claimed if fields])

    async def _handle(
        self, handler: CommandHandler, entries: list[tuple[Any, dict[bytes, bytes]]]
    ) -> None:
        """Hand the entries to the handler as one batch; acknowledge them once it returned."""
        commands = []
        for entry_id, fields in entries:
            try:
                commands.append(Command.from_json(fields[b"c"]))
            except Exception as exc:
                bus_logger.warning(
                    "dropping malformed command entry %s: %s", entry_id, describe(exc)
                )
        if commands:
            await handler(commands)
        if entries:
            await self._redis.xack(self._stream, GROUP, *(entry_id for entry_id, _ in entries))

    async def reply(self, reply: CommandReply) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self._reply_prefix + reply.key, reply.to_json(), ex=self._reply_ttl_s)
                pipe.publish(self._channel, reply.key)
                await pipe.execute()
        except RedisError as exc:
            raise BusError(f"replying to {reply.key}: {exc}") from exc

    async def wait_reply(self, key: str, timeout: float) -> CommandReply | None:
        waiter: asyncio.Future[CommandReply] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(waiter)
        try:
            # Subscribed before looking: a reply stored after the look is announced to us.
            await asyncio.wait_for(self._subscribed(), timeout)
            stored = await self._redis.get(self._reply_prefix + key)
            if stored is not None:
                return CommandReply.from_json(stored)
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return None
        except RedisError as exc:
            raise BusError(f"waiting for the reply to {key}: {exc}") from exc
        finally:
            waiters = self._waiters.get(key, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiters.pop(key, None)

    async def _subscribed(self) -> None:
        if self._listener is None or self._listener.done():
            self._ready = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(), name="command-replies")
        await self._ready.wait()

    async def _listen(self) -> None:
        """One subscription per process; wakes the waiters of each announced key."""
        backoff = Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        outage = Outage(bus_logger, "listening for command replies")
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    # Replies announced while (re)subscribing were missed: look them up.
                    for key in list(self._waiters):
                        await self._wake(key)
                    self._ready.set()
                    outage.recovered()
                    backoff.reset()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._wake(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._ready.clear()
                delay = backoff.next()
                outage.failed(exc, retry_in=delay)
                await asyncio.sleep(delay)

    async def _wake(self, key: str) -> None:
        if key not in self._waiters:
            return
        stored = await self._redis.get(self._reply_prefix + key)
        if stored is None:
            return
        reply = CommandReply.from_json(stored)
        for waiter in self._waiters.get(key, []):
            if not waiter.done():
                waiter.set_result(reply)

    async def aclose(self) -> None:
        for task in (self._consumer, self._listener):
            if task is not None:
                await cancel_and_wait(task)
        self._consumer = self._listener = None
        await self._redis.aclose()


_: type[CommandChannel] = RedisCommandChannel
