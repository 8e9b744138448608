"""The command channel: rest_api → hub, and the hub's replies back.

Delivery to the hub is at least once: a command is acknowledged only after
the hub's handler returned (a batch whose handler failed is handed over again), so a command in flight when a hub dies is
delivered again (to the next hub). The hub makes that exactly once by
recording each idempotency key before acting.

Replies are kept for a while by key, so a caller that asks again after a
timeout, or after the reply was sent, still gets it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from fleetcore.contract.commands import Command, CommandReply

CommandHandler = Callable[[list[Command]], Awaitable[None]]
"""The hub's handler of a batch of commands, in order; they are acknowledged once it returns."""

COMMAND_BATCH = 100
"""Most commands handed to the handler at once."""

BACKOFF_INITIAL_S = 0.05
BACKOFF_MAX_S = 2.0
"""The waits of a consumer whose handler failed, and of a reply listener, before retrying."""


class CommandChannel(Protocol):
    async def start(self) -> None: ...

    async def send(self, command: Command) -> None:
        """rest_api: queue a command for the hub."""

    def consume(self, handler: CommandHandler) -> None:
        """Hub only: deliver every queued and later command to ``handler``, in order, in batches
        of what is queued (at most :data:`COMMAND_BATCH`)."""

    async def reply(self, reply: CommandReply) -> None:
        """Hub: the outcome of a command, by its key."""

    async def wait_reply(self, key: str, timeout: float) -> CommandReply | None:
        """The reply for ``key``, waiting up to ``timeout`` seconds; None if none came."""

    async def aclose(self) -> None: ...
