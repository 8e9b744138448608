"""The in-process command channel of the embedded system."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

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
from fleetcore.log import bus_logger
from fleetcore.outage import Outage


class InMemoryCommandChannel:
    def __init__(self, queue_size: int = 10_000, replies_kept: int = 10_000) -> None:
        self._queue: asyncio.Queue[Command] = asyncio.Queue(queue_size)
        self._replies: OrderedDict[str, CommandReply] = OrderedDict()
        self._replies_kept = replies_kept
        self._waiters: dict[str, list[asyncio.Future[CommandReply]]] = {}
        self._consumer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        return None

    async def send(self, command: Command) -> None:
        await self._queue.put(command)

    def consume(self, handler: CommandHandler) -> None:
        if self._consumer is None:
            self._consumer = asyncio.create_task(self._run(handler), name="commands-consumer")

    async def _run(self, handler: CommandHandler) -> None:
        """Hand each batch over until its handler returns, as Redis redelivers what was not acked."""
        outage = Outage(bus_logger, "handling commands")
        backoff = Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        while True:
            batch = [await self._queue.get()]
            while len(batch) < COMMAND_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            while True:
                try:
                    await handler(batch)
                except Exception as exc:
                    delay = backoff.next()
                    outage.failed(exc, retry_in=delay)
                    await asyncio.sleep(delay)
                else:
                    outage.recovered()
                    backoff.reset()
                    break

    async def reply(self, reply: CommandReply) -> None:
        self._replies[reply.key] = reply
        self._replies.move_to_end(reply.key)
        while len(self._replies) > self._replies_kept:
            self._replies.popitem(last=False)
        for waiter in self._waiters.pop(reply.key, []):
            if not waiter.done():
                waiter.set_result(reply)

    async def wait_reply(self, key: str, timeout: float) -> CommandReply | None:
        if key in self._replies:
            return self._replies[key]
        waiter: asyncio.Future[CommandReply] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return None
        finally:
            waiters = self._waiters.get(key, [])
            if waiter in waiters:
                waiters.remove(waiter)

    async def aclose(self) -> None:
        if self._consumer is not None:
            await cancel_and_wait(self._consumer)
            self._consumer = None


_: CommandChannel = InMemoryCommandChannel()
