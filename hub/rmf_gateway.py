"""How the hub reaches RMF with a command, and how RMF's answer comes back.

:class:`RmfGateway` is what the command executor needs: send one recorded
command. :class:`SiteGateway` is the embedded implementation: the sites
connected to ``/_internal`` (the simulator, or a ros_bridge relaying to RMF's
``task_api_requests``) receive a ``command`` frame and answer with a
``command_response`` frame on the same websocket, which the ingest handler
hands back here. A ros_bridge running inside the hub process
(``FLEETHUB_ROS_BRIDGE``, :mod:`hub.ingest_ros`) is one more such site.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import orjson

from fleetcore import metrics
from fleetcore.bus.base import PublicationHandler
from fleetcore.contract import rooms
from fleetcore.contract.commands import alert_response_frame, command_frame, labelled
from fleetcore.contract.envelope import Publication
from fleetcore.contract.ingest import CommandResponse
from fleetcore.errors import FleethubError
from fleetcore.log import hub_logger
from fleetcore.store import models

ResponseHandler = Callable[[CommandResponse], Awaitable[None]]


class RmfUnreachable(FleethubError):
    """No RMF site could be given the command: it was not sent, so it may fail safely."""


class Site(Protocol):
    """A connected RMF site as the gateway sees it: something a command frame is sent to.

    A site's ``/_internal`` websocket is one; the in-process bridge is another.
    """

    async def send_str(self, data: str) -> None:
        """Send one text frame; raises ConnectionError when the site is gone."""


class RmfGateway(Protocol):
    async def send(self, record: models.CommandRecord) -> None:
        """Hand the command to RMF; raises :class:`RmfUnreachable` if it surely was not sent."""


class SiteGateway:
    """The ingest websockets of connected sites; commands go to each of them.

    Every site gets the command (one RMF deployment may span several
    adapters; the one that owns the fleet or device acts, the others answer
    ``success: false`` or nothing). The first answer completes the command, a
    later one counts as a duplicate.
    """

    def __init__(self, *, site_wait_s: float = 10.0) -> None:
        self._sites: set[Site] = set()
        self._on_response: ResponseHandler | None = None
        self._site_wait_s = site_wait_s
        self._any_site = asyncio.Event()

    @property
    def connected(self) -> int:
        return len(self._sites)

    def attach(self, ws: Site) -> None:
        self._sites.add(ws)
        self._any_site.set()

    def detach(self, ws: Site) -> None:
        self._sites.discard(ws)
        if not self._sites:
            self._any_site.clear()

    def on_response(self, handler: ResponseHandler | None) -> None:
        """Who completes commands (the leading hub's executor); None while there is none."""
        self._on_response = handler

    async def send(self, record: models.CommandRecord) -> None:
        """Send to every site, waiting up to ``site_wait_s`` for one to connect.

        Sites reconnect after a hub restart or a network blip: a command that
        arrives meanwhile waits for them rather than failing at once. It was
        surely not sent while none is connected, so waiting can never send twice.
        """
        body = labelled(record.kind, orjson.loads(record.body), record.request_id)
        frame = command_frame(record.request_id, record.kind, body).decode()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._any_site.wait(), self._site_wait_s)
        sent = await self.notify(frame)
        if not sent:
            raise RmfUnreachable("no RMF site is connected to /_internal")

    async def notify(self, frame: str) -> int:
        """Send a frame that needs no answer to every connected site; how many took it."""
        sent = 0
        for site in list(self._sites):
            try:
                await site.send_str(frame)
                sent += 1
            except ConnectionError:
                hub_logger.info("a site went away while being sent a frame")
        return sent

    async def received(self, response: CommandResponse) -> None:
        """A site answered a command; without an executor (a standby hub) it is ignored."""
        if self._on_response is None:
            metrics.COMMAND_RESPONSES_IGNORED.labels("no_executor").inc()
            return
        await self._on_response(response)


SITE_RESPONDERS = frozenset({"rmf", "fleethub"})
"""Responders whose responses are not the operators': RMF's own (it knows them) and the hub's
resolutions of derived alerts (RMF never raised those). Like rmf-web, every operator's
response goes to RMF, which ignores the ids it did not raise."""


def alert_response_relay(sites: SiteGateway) -> PublicationHandler:
    """A publication listener that tells the sites each operator's response to an alert.

    rmf-web answers an alert on RMF's ``alert_response`` topic besides storing
    it; here rest_api stores it, the hub publishes it on /alerts/responses,
    and this hands it to the sites (ros_bridge publishes it to RMF). A site
    that is not connected at that moment does not get it: RMF's topic is
    volatile, so a later re-send would not reach a restarted RMF either.
    """

    async def relay(batch: Sequence[Publication]) -> None:
        for pub in batch:
            if pub.room != rooms.ALERT_RESPONSES.pattern:
                continue
            answer = orjson.loads(pub.data_json)
            # The hub's resolutions name no responder; RMF's own responses name "rmf".
            responder = answer.get("responder")
            if not responder or responder in SITE_RESPONDERS:
                continue
            frame = alert_response_frame(str(answer["id"]), str(answer["response"])).decode()
            if not await sites.notify(frame):
                hub_logger.warning(
                    "no RMF site connected to tell alert %s's response", answer["id"]
                )

    return relay


_: RmfGateway = SiteGateway()
