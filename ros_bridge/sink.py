"""Where the bridge puts what it converted: an :class:`IngestSink`.

Two deployments share the bridge: inside the hub process the sink hands
messages to the hub directly; at a site, :class:`WebSocketSink` connects out
to the hub's ``/_internal`` ingest websocket, the same endpoint RMF's fleet
adapters push to, so a site needs no inbound port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

import orjson

from fleetcore.aio import CLEANUP_GRACE_S, cancel_and_wait
from fleetcore.contract.ingest import IngestType, ingest_url
from fleetcore.errors import PartFailed
from fleetcore.log import bridge_logger
from fleetcore.site_client import SiteClient, SiteClientStats
from ros_bridge.commands import SERVES

__all__ = [
    "FrameHandler",
    "IngestSink",
    "LatestState",
    "WebSocketSink",
    "WebSocketSinkConfig",
    "ingest_url",
]

# The field that names the resource of each state message: a reconnecting
# sink re-sends the latest message per (type, name), i.e. its current state.
_STATE_KEYS: dict[str, str] = {
    IngestType.DOOR_STATE: "door_name",
    IngestType.LIFT_STATE: "lift_name",
    IngestType.DISPENSER_STATE: "guid",
    IngestType.INGESTOR_STATE: "guid",
    IngestType.FLEET_STATE: "name",
    IngestType.BUILDING_MAP: "name",
    IngestType.BEACON_STATE: "id",
}


class IngestSink(Protocol):
    """Receives each converted ``{"type", "data"}`` message, in order per topic."""

    async def submit(self, message: dict[str, Any]) -> None: ...


FrameHandler = Callable[[dict[str, Any]], Awaitable[None]]
"""What a sink does with a frame the hub sent it (a ``command``), see :mod:`ros_bridge.commands`."""


class LatestState:
    """The latest frame of each resource the bridge reported: the site's current state.

    Whoever hands messages on keeps it to give a hub that missed some (it
    was unreachable, or did not lead) everything it needs at once.
    """

    def __init__(self) -> None:
        self._frames: dict[tuple[str, str], bytes] = {}

    def keep(self, message: dict[str, Any], frame: bytes) -> bool:
        """Remember ``frame`` if ``message`` is a state; True if it was one."""
        key_field = _STATE_KEYS.get(message["type"])
        if key_field is None:
            return False
        self._frames[(message["type"], str(message["data"].get(key_field, "")))] = frame
        return True

    def frames(self) -> list[bytes]:
        return list(self._frames.values())


@dataclass(frozen=True, slots=True)
class WebSocketSinkConfig:
    """How :class:`WebSocketSink` reaches the hub."""

    url: str
    """``ws://host:port/_internal``; a site token goes in ``?token=`` (see :func:`ingest_url`)."""
    initial_backoff_s: float = 0.5
    """First wait after a failed or lost connection; doubles each failure..."""
    max_backoff_s: float = 30.0
    """...up to this."""
    max_pending: int = 1000
    """Non-state messages (alerts, command answers) kept until the hub acknowledges them;
    beyond, the oldest drop."""
    heartbeat_s: float = 2.0
    """Silence from the hub after which it is pinged; it is deemed gone half of this later
    (``FLEETHUB_SITE_HEARTBEAT_S``)."""


class WebSocketSink:
    """Sends each message as one JSON text frame to the hub's ingest websocket.

    The connection is a :class:`~fleetcore.site_client.SiteClient`, the one
    the simulator uses too: it reconnects by itself with backoff and on every
    (re)connect first re-sends the latest state message of each resource, so
    the hub has the site's current state after an outage; non-state messages
    queued meanwhile follow. ``submit`` never waits for the network.

    The hub's own frames on that connection (commands) go to ``on_frame``, so
    a site needs no inbound port for them either.
    """

    def __init__(self, config: WebSocketSinkConfig, on_frame: FrameHandler | None = None) -> None:
        self._latest = LatestState()
        self.client = SiteClient(
            config.url,
            on_connect=self._latest.frames,
            on_message=on_frame,
            serves=SERVES,
            backoff_initial_s=config.initial_backoff_s,
            backoff_max_s=config.max_backoff_s,
            max_backlog=config.max_pending,
            heartbeat_s=config.heartbeat_s,
            logger=bridge_logger,
        )
        self._task: asyncio.Task[None] | None = None

    def handle_frames_with(self, handler: FrameHandler) -> None:
        """Who takes the hub's frames (:class:`~ros_bridge.commands.BridgeCommands`, which
        needs the bridge this sink feeds, so it comes after the sink)."""
        self.client.on_message = handler

    @property
    def stats(self) -> SiteClientStats:
        return self.client.stats

    async def start(self) -> None:
        """Run the link to the hub in a task of its own, until :meth:`aclose`."""
        self._task = asyncio.create_task(self.client.run(), name="fleethub-bridge-ws-sink")
        self._task.add_done_callback(_log_failure)

    async def stopped(self) -> NoReturn:
        """Until the link's task ends, which it does only by failing (logged as it happens)."""
        if self._task is not None:
            await asyncio.wait({self._task})
        raise PartFailed("the bridge's link to the hub stopped")

    async def aclose(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task, grace_s=CLEANUP_GRACE_S)
            self._task = None

    async def wait_connected(self) -> None:
        await self.client.wait_connected()

    async def submit(self, message: dict[str, Any]) -> None:
        frame = orjson.dumps(message)
        is_state = self._latest.keep(message, frame)
        # A state lost while disconnected is re-sent from the latest on connect.
        self.client.send(frame, durable=not is_state)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        bridge_logger.error("the link to the hub stopped", exc_info=task.exception())
