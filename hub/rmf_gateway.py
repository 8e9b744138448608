"""How the hub reaches RMF with a command, and how RMF's answer comes back.

:class:`RmfGateway` is what the command executor needs: send one recorded
command. :class:`SiteGateway` is the embedded implementation: the sites
connected to ``/_internal`` (the simulator, or a ros_bridge relaying to RMF's
``task_api_requests``) receive a ``command`` frame and answer with a
``command_response`` frame on the same websocket, which the ingest handler
hands back here. A ros_bridge running inside the hub process
(``FLEETHUB_ROS_BRIDGE``, :mod:`hub.ingest_ros`) is one more such site.

Routing: a command goes only to the sites that serve it. A site says in its
``hello`` (:class:`~fleetcore.contract.site_link.Serves`) which command kinds
it performs and which fleets, doors and lifts it owns; the hub also learns
from what each site sends (fleet, door and lift states; the tasks whose
states and logs it reports). A command that names its fleet, task, door or
lift goes to the sites that take its kind and own that. If none owns it (not
reported yet, or unknown), or the command names none (a dispatch that lets
RMF pick the fleet, a task discovery), it goes to the sites of that kind that
run a dispatcher (``Serves.dispatcher``: ros_bridge, in front of RMF's
dispatcher, which knows the fleets RMF's own adapters report; the
simulator), or, without one, to every site that takes its kind.
A dispatch naming no fleet goes first to the sites that bid for one
(``Serves.bids``: a VDA 5050 master control, which knows its vehicles'
costs): one takes it, or declines it (``declined`` answer) and the next bidder,
then the dispatchers (else every other site that takes it), get it; a decline
from the last is the answer. The choice is thus VDA 5050 first when a VDA
fleet can do the task, else RMF's dispatcher; each says why in its task log.
Sites that sent no hello (RMF's fleet adapters, which cannot take commands,
or a site of an older release) get a command only when no site takes its
kind, as every site did before routing. Operators' answers to alerts go the
same way to the sites that relay them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from fleetcore import metrics
from fleetcore.bus.base import PublicationHandler
from fleetcore.contract import rooms
from fleetcore.contract.commands import (
    CommandKind,
    Target,
    alert_response_frame,
    command_frame,
    command_target,
    declined,
    labelled,
)
from fleetcore.contract.envelope import Publication
from fleetcore.contract.ingest import CommandResponse, IngestMessage, IngestType
from fleetcore.contract.site_link import Serves
from fleetcore.errors import FleethubError
from fleetcore.log import hub_logger
from fleetcore.store import models

ResponseHandler = Callable[[CommandResponse, asyncio.Future[None] | None], Awaitable[None]]
"""Completes a command with RMF's answer; settles the future once the answer is recorded."""

MAX_LEARNED = 10_000
"""Most names of each kind (fleets, doors, lifts, tasks) remembered per site; the oldest tasks go first."""


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


@dataclass(slots=True)
class SiteProfile:
    """What one connected site serves: announced in its hello and learned from what it sends."""

    serves: Serves | None
    """What its hello said; None for a site that sent none."""
    fleets: set[str] = field(default_factory=set)
    doors: set[str] = field(default_factory=set)
    lifts: set[str] = field(default_factory=set)
    tasks: OrderedDict[str, None] = field(default_factory=OrderedDict)

    @classmethod
    def announced(cls, serves: Serves | None) -> SiteProfile:
        if serves is None:
            return cls(None)
        return cls(serves, set(serves.fleets), set(serves.doors), set(serves.lifts))

    def takes(self, kind: str) -> bool:
        return self.serves is not None and kind in self.serves.commands

    @property
    def dispatches(self) -> bool:
        return self.serves is not None and self.serves.dispatcher

    @property
    def bids(self) -> bool:
        return self.serves is not None and self.serves.bids

    def owns(self, target: Target) -> bool:
        what, name = target
        if what == "task":
            return name in self.tasks
        return name in {"fleet": self.fleets, "door": self.doors, "lift": self.lifts}[what]

    def learn(self, message: IngestMessage) -> None:
        """Remember the fleet, door, lift or task a message from this site reports."""
        data = message.data
        if message.type in (IngestType.FLEET_STATE, IngestType.FLEET_LOG):
            _remember(self.fleets, data.name)
        elif message.type is IngestType.DOOR_STATE:
            _remember(self.doors, data.door_name)
        elif message.type is IngestType.LIFT_STATE:
            _remember(self.lifts, data.lift_name)
        elif message.type is IngestType.TASK_STATE:
            self._task(data.booking.id)
            if data.assigned_to is not None and data.assigned_to.group:
                _remember(self.fleets, data.assigned_to.group)
        elif message.type is IngestType.TASK_LOG:
            self._task(data.task_id)

    def _task(self, task_id: str) -> None:
        self.tasks[task_id] = None
        self.tasks.move_to_end(task_id)
        if len(self.tasks) > MAX_LEARNED:
            self.tasks.popitem(last=False)


def _remember(names: set[str], name: str) -> None:
    if len(names) < MAX_LEARNED:
        names.add(name)


class SiteGateway:
    """The ingest websockets of connected sites; each command goes to the sites that serve it.

    The first answer completes the command, a later one counts as a duplicate.
    """

    def __init__(self, *, site_wait_s: float = 10.0) -> None:
        self._sites: dict[Site, SiteProfile] = {}
        self._on_response: ResponseHandler | None = None
        self._site_wait_s = site_wait_s
        self._attached = asyncio.Event()
        self._next: dict[str, tuple[str, list[list[Site]]]] = {}
        """Dispatches naming no fleet out with a bidder: their frame, and who gets it on a decline."""

    @property
    def connected(self) -> int:
        return len(self._sites)

    def attach(self, site: Site, serves: Serves | None = None) -> None:
        """A site connected, or said what it serves (its hello): commands may go to it now."""
        self._sites[site] = SiteProfile.announced(serves)
        self._attached.set()

    def detach(self, site: Site) -> None:
        self._sites.pop(site, None)

    def learn(self, site: Site, message: IngestMessage) -> None:
        """A message a site sent: what it reports, it serves."""
        profile = self._sites.get(site)
        if profile is not None:
            profile.learn(message)

    def on_response(self, handler: ResponseHandler | None) -> None:
        """Who completes commands (the leading hub's executor); None while there is none."""
        self._on_response = handler

    async def send(self, record: models.CommandRecord) -> None:
        """Send to the sites that serve the command, waiting up to ``site_wait_s`` for one.

        Sites reconnect after a hub restart or a network blip: a command that
        arrives meanwhile waits for them rather than failing at once. It was
        surely not sent while none is connected, so waiting can never send twice.
        """
        body = labelled(record.kind, orjson.loads(record.body), record.request_id)
        frame = command_frame(record.request_id, record.kind, body).decode()
        target = command_target(record.kind, body)
        routed = await self._wait_for_route(lambda: self.route(record.kind, target))
        if target is None and record.kind == CommandKind.DISPATCH_TASK:
            routed = self._bidders_first(record.request_id, frame, routed)
        if not await _send_each(routed, frame):
            raise RmfUnreachable(
                "no RMF site that performs this command is connected to /_internal"
            )

    def route(self, kind: str, target: Target | None) -> list[Site]:
        """The sites a command of ``kind`` on ``target`` goes to (see the module's docstring)."""
        takers = [site for site, profile in self._sites.items() if profile.takes(kind)]
        if not takers:
            return self._without_hello()
        owners = [site for site in takers if target and self._sites[site].owns(target)]
        dispatchers = [site for site in takers if self._sites[site].dispatches]
        return owners or dispatchers or takers

    def _bidders_first(self, request_id: str, frame: str, routed: list[Site]) -> list[Site]:
        """The first bidder gets the dispatch; the rest wait in line for its decline."""
        bidders = [
            site for site, p in self._sites.items() if p.bids and p.takes(CommandKind.DISPATCH_TASK)
        ]
        if not bidders:
            return routed
        others = [site for site in routed if site not in bidders]
        line = [[site] for site in bidders[1:]] + ([others] if others else [])
        self._next[request_id] = (frame, line)
        return bidders[:1]

    async def _pass_on(self, request_id: str) -> bool:
        """After a bidder's decline, send the dispatch to the next in line; False if none took it."""
        frame, line = self._next.pop(request_id, ("", []))
        for index, group in enumerate(line):
            if index + 1 < len(line):
                self._next[request_id] = (frame, line[index + 1 :])
            if await _send_each([site for site in group if site in self._sites], frame):
                metrics.COMMAND_RESPONSES_IGNORED.labels("declined").inc()
                return True
            self._next.pop(request_id, None)
        return False

    async def notify_alert_response(self, frame: str) -> int:
        """Tell the sites that relay alert responses (or, without any, those without a hello)."""
        relays = [site for site, p in self._sites.items() if p.serves and p.serves.alert_responses]
        return await _send_each(relays or self._without_hello(), frame)

    def _without_hello(self) -> list[Site]:
        return [site for site, profile in self._sites.items() if profile.serves is None]

    async def _wait_for_route(self, route: Callable[[], list[Site]]) -> list[Site]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._site_wait_s
        while not (routed := route()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._attached.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._attached.wait(), remaining)
        return routed

    async def received(
        self, response: CommandResponse, recorded: asyncio.Future[None] | None = None
    ) -> None:
        """A site answered a command; ``recorded`` settles once the answer is stored.

        Without an executor (a hub stepping down) the answer is not taken: it is
        counted and ``recorded`` cancelled, so an acknowledged site sends it again.
        """
        if self._on_response is None:
            metrics.COMMAND_RESPONSES_IGNORED.labels("no_executor").inc()
            if recorded is not None:
                recorded.cancel()
            return
        if response.request_id in self._next:
            if declined(response.model_dump()) and await self._pass_on(response.request_id):
                if recorded is not None:
                    recorded.set_result(None)
                return
            self._next.pop(response.request_id, None)
        await self._on_response(response, recorded)


async def _send_each(sites: list[Site], frame: str) -> int:
    """Send a frame to each site; how many took it."""
    sent = 0
    for site in sites:
        try:
            await site.send_str(frame)
            sent += 1
        except ConnectionError:
            hub_logger.info("a site went away while being sent a frame")
    return sent


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
            if not await sites.notify_alert_response(frame):
                hub_logger.warning(
                    "no RMF site connected to tell alert %s's response", answer["id"]
                )

    return relay


_: RmfGateway = SiteGateway()
