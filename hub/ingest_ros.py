"""The ROS 2 bridge inside the hub process (``FLEETHUB_ROS_BRIDGE=true``).

The same :class:`~ros_bridge.bridge.RosBridge` that runs at a site runs here
with a sink that hands each message to the hub's ingest path
(:func:`hub.ingest_ws.ingest_frame`: the same validation, counting and
command completion as the ``/_internal`` websocket, without a socket), and
it is one more site of the :class:`~hub.rmf_gateway.SiteGateway`, so the
hub's commands are published to RMF here too.

A standby hub runs its bridge as well (it must be ready to take over), but
ingest refuses it; the sink keeps each resource's latest state meanwhile and,
with the first message after the hub leads, hands it all over first, as a
reconnecting site would (RMF's state topics repeat, so that comes soon).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from fleetcore.aio import cancel_all
from fleetcore.contract.ingest import IngestLimits
from fleetcore.errors import IngestRejected, NotLeading
from fleetcore.log import ingest_logger
from fleetcore.settings import Settings
from hub.ingest_ws import ingest_frame
from hub.rmf_gateway import Site, SiteGateway
from hub.service import Hub
from ros_bridge.sink import FrameHandler, LatestState


@dataclass(slots=True)
class HubSinkStats:
    ingested: int = 0
    rejected: int = 0
    not_leading: int = 0
    """Messages that arrived while this hub did not lead (state among them is re-sent later)."""


class HubSink:
    """An :class:`~ros_bridge.sink.IngestSink` that ingests into this process's hub."""

    def __init__(self, hub: Hub, sites: SiteGateway, limits: IngestLimits) -> None:
        self._hub = hub
        self._sites = sites
        self._limits = limits
        self._latest = LatestState()
        self._behind = True
        """The hub has not seen the current state yet (it did not lead, or just started)."""
        self.site: Site | None = None
        """The gateway's site the bridge is: what it reports, it serves."""
        self.stats = HubSinkStats()

    async def submit(self, message: dict[str, Any]) -> None:
        frame = orjson.dumps(message)
        stored = self._latest.keep(message, frame)
        if not self._hub.ready:
            self._behind = True
            self.stats.not_leading += 1
            return
        if self._behind:
            self._behind = False
            for state in self._latest.frames():
                await self._ingest(state)
            if stored:
                return
        await self._ingest(frame)

    async def _ingest(self, frame: bytes) -> None:
        try:
            await ingest_frame(
                self._hub, self._sites, frame, self._limits, time.monotonic(), site=self.site
            )
        except IngestRejected as exc:
            self.stats.rejected += 1
            ingest_logger.info("rejected a message from the in-process ROS bridge: %s", exc)
        except NotLeading:
            self._behind = True
            self.stats.not_leading += 1
        else:
            self.stats.ingested += 1


class InProcessSite:
    """The in-process bridge as a site of the gateway: a command frame is performed on RMF.

    Each frame is handled in a task of its own, as a remote site handles it
    after the send returned, so an answer that comes at once (a door request)
    never reaches the executor before it finished sending.
    """

    def __init__(self, on_frame: FrameHandler) -> None:
        self._on_frame = on_frame
        self._tasks: set[asyncio.Task[None]] = set()

    async def send_str(self, data: str) -> None:
        task = asyncio.create_task(self._handle(orjson.loads(data)), name="ros-bridge-command")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def _handle(self, frame: dict[str, Any]) -> None:
        await self._on_frame(frame)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            ingest_logger.error("the in-process bridge failed a command", exc_info=task.exception())

    async def aclose(self) -> None:
        await cancel_all(self._tasks)


def in_process_bridge(
    hub: Hub, settings: Settings, sites: SiteGateway
) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context running the bridge while the app runs.

    Raises :class:`~fleetcore.errors.ConfigError` at once (before anything
    starts) when rclpy or the RMF interface packages are missing.
    """
    from ros_bridge.available import require_ros

    require_ros("FLEETHUB_ROS_BRIDGE=true")
    limits = IngestLimits(settings.ingest_max_frame_bytes, settings.ingest_max_map_bytes)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        from ros_bridge.bridge import RosBridge
        from ros_bridge.commands import SERVES, BridgeCommands

        sink = HubSink(hub, sites, limits)
        async with RosBridge(sink) as bridge:
            site = InProcessSite(BridgeCommands(bridge, sink.submit).on_frame)
            sink.site = site
            sites.attach(site, SERVES)
            ingest_logger.info("the ROS 2 bridge runs inside the hub")
            try:
                yield
            finally:
                sites.detach(site)
                with contextlib.suppress(asyncio.CancelledError):
                    await site.aclose()

    return lifetime
