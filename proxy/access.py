"""Who may subscribe to which room, and what of each publication they receive.

Every room template of :mod:`fleetcore.contract.rooms` has a rule in
:data:`RULES`; a template without one is refused to everyone but admins
(and ``tests/proxy/test_room_bola.py`` fails until it gets one). A rule
either refuses the subscription — ``not found`` when the object belongs to
another group (its existence is not leaked), ``forbidden`` when the user
sees the object but lacks the permission — or admits it with a
:class:`View`, or with None when the subscriber receives every publication
as published (admins, whole-fleet grants, rooms open to every user).

A view decides per publication: it returns the publication, a filtered
copy (a fleet state with only the permitted robots) or None. Two
subscribers whose views have equal :attr:`View.key` receive the same bytes,
so the fan-out renders and encodes each distinct view once per publication.

The rules: building map, fire alarm, dispensers, ingestors, beacons and RIOs
are open to every authenticated user; a door or lift to users whose groups name it; a fleet's
state and log to readers of its robots, filtered to those robots; a task to
readers (``task_read``) of its assigned robot, or, unassigned, to its
requester (``forbidden`` for who sees the robot without ``task_read``);
alerts, delivery alerts and derived events per publication, to readers of
the robot or task they concern; a command's outcome to the user who sent it;
new media, in the room of what it is attached to, as that is shown
(``/fleets/{name}/media`` to readers of its robot, ``/tasks/{task_id}/media`` as
the task, ``/alerts/media`` and ``/events/media`` per publication like ``/media``).
Which object is visible is decided by :mod:`fleetcore.auth.visibility`, as for the REST
reads; this module applies it to subscriptions and to a stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

import orjson

from fleetcore.auth.permissions import Permission, Principal
from fleetcore.auth.visibility import (
    fleet_log_of,
    may_read_concern,
    may_read_task,
    only_robots,
    readable_robots,
    sees_task,
    task_concern,
)
from fleetcore.bus.base import Bus
from fleetcore.contract import rooms
from fleetcore.contract.envelope import Publication
from fleetcore.contract.rooms import RoomMatch, RoomTemplate
from fleetcore.map_images import MapImageUrls
from proxy.concerns import Concerns, task_id_of

NOT_FOUND = "not found"
FORBIDDEN = "forbidden"


class RoomDenied(Exception):
    """A refused subscription; ``answer`` is what the client is told (``not found``/``forbidden``)."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


class View(Protocol):
    """What one group of subscribers receives of a room's publications."""

    @property
    def key(self) -> Hashable:
        """Equal for two views that render every publication the same."""

    def render(self, pub: Publication) -> Publication | None:
        """The publication as this view shows it, or None when it shows nothing of it."""


@dataclass(frozen=True, slots=True)
class Context:
    """What a rule may consult: the bus's sticky values and what the proxy learned."""

    bus: Bus
    concerns: Concerns
    images: MapImageUrls
    """Makes the building map's image paths URLs a browser loads without a token."""


Rule = Callable[[Principal, RoomMatch, Context], Awaitable[View | None]]


def _replace_data(pub: Publication, data: object) -> Publication:
    return Publication(pub.room, pub.seq, pub.epoch, pub.received_ms, orjson.dumps(data))


@dataclass(frozen=True, slots=True)
class _RobotsView:
    """Part of a fleet: the robots the subscriber may read. Equal robots, equal view."""

    robots: frozenset[str]

    @property
    def key(self) -> Hashable:
        return self.robots


class FleetStateView(_RobotsView):
    """A fleet state with only the robots the subscriber may read."""

    __slots__ = ()

    def render(self, pub: Publication) -> Publication | None:
        data = pub.data()
        data["robots"] = only_robots(data.get("robots") or {}, self.robots)
        return _replace_data(pub, data)


class FleetLogView(_RobotsView):
    """A fleet log's entries of permitted robots; fleet-wide entries need the whole fleet."""

    __slots__ = ()

    def render(self, pub: Publication) -> Publication | None:
        shown = fleet_log_of(pub.data(), self.robots)
        return None if shown is None else _replace_data(pub, shown)


class FleetMediaView(_RobotsView):
    """A fleet's new media, of the robots the subscriber may read."""

    __slots__ = ()

    def render(self, pub: Publication) -> Publication | None:
        return pub if pub.data().get("robot") in self.robots else None


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task's state or log, shown while the task's current assignment is readable."""

    principal: Principal
    task_id: str
    concerns: Concerns

    @property
    def key(self) -> Hashable:
        return (self.principal.view_key(Permission.task_read), self.principal.username)

    def render(self, pub: Publication) -> Publication | None:
        # A state carries its own assignment; a log entry goes by the latest state's.
        state = task_id_of(pub.room) is not None
        task = task_concern(pub.data()) if state else self.concerns.task(self.task_id)
        return pub if task is not None and may_read_task(self.principal, task) else None


@dataclass(frozen=True, slots=True)
class ConcernView:
    """Alerts and derived events, each shown to readers of what it concerns."""

    principal: Principal
    concerns: Concerns

    @property
    def key(self) -> Hashable:
        p = self.principal
        return (p.view_key(Permission.robot_read), p.view_key(Permission.task_read), p.username)

    def render(self, pub: Publication) -> Publication | None:
        concern = self.concerns.of(pub)
        task = self.concerns.task(concern.task_id) if concern.task_id is not None else None
        return pub if may_read_concern(self.principal, concern, task) else None


@dataclass(frozen=True, slots=True)
class CommandView:
    """A command's outcome, shown to the user who sent it (its ``requester``)."""

    username: str

    @property
    def key(self) -> Hashable:
        return ("command", self.username)

    def render(self, pub: Publication) -> Publication | None:
        return pub if pub.data().get("requester") == self.username else None


@dataclass(frozen=True, slots=True)
class MapImagesView:
    """The building map with its images as absolute, signed URLs for the subscriber's origin.

    Every subscriber gets one (admins too); those of one origin in one
    signing period share the bytes.
    """

    images: MapImageUrls
    base_url: str

    @property
    def key(self) -> Hashable:
        return ("map", self.base_url, self.images.period())

    def render(self, pub: Publication) -> Publication | None:
        data = self.images.absolute(pub.data_json, self.base_url, self.images.period())
        return Publication(pub.room, pub.seq, pub.epoch, pub.received_ms, data)


def presented(view: View | None, match: RoomMatch, ctx: Context, base_url: str) -> View | None:
    """The view a subscriber gets, given what :func:`authorize` allowed and where it connected."""
    if match.template is rooms.BUILDING_MAP:
        return MapImagesView(ctx.images, base_url)
    return view


async def _open(principal: Principal, match: RoomMatch, ctx: Context) -> View | None:
    """Site-wide information every authenticated user may see."""
    return None


async def _door(principal: Principal, match: RoomMatch, ctx: Context) -> View | None:
    if not principal.sees_door(match.params["name"]):
        raise RoomDenied(NOT_FOUND)
    return None


async def _lift(principal: Principal, match: RoomMatch, ctx: Context) -> View | None:
    if not principal.sees_lift(match.params["name"]):
        raise RoomDenied(NOT_FOUND)
    return None


def _fleet_robots(principal: Principal, fleet: str) -> frozenset[str] | None:
    """The robots of ``fleet`` the principal reads; None: the whole fleet.

    A fleet none of whose robots the user reads does not exist for them, as
    over REST: ``not found``.
    """
    robots = readable_robots(principal, fleet)
    if robots is not None and not robots:
        raise RoomDenied(NOT_FOUND)
    return robots


async def _fleet_state(principal: Principal, match: RoomMatch, ctx: Context) -> View | None:
    robots = _fleet_robots(principal, match.params["name"])
    return None if robots is None else FleetStateView(robots)


async def _fleet_log(principal: Principal, match: RoomMatch, ctx: Context) -> View | None:
    robots = _fleet_robots(principal, match.params["name"])
    return None if robots is None else FleetLogView(robots)


async def _fleet_media(principal: Principal, match: RoomMatch, ctx: Context) -> View | None:
    robots = _fleet_robots(principal, match.params["name"])
    return None if robots is None else FleetMediaView(robots)


async def _task(principal: Principal, match: RoomMatch, ctx: Context) -> View | None:
    task_id = match.params["task_id"]
    task = ctx.concerns.task(task_id)
    if task is None:
        state = await ctx.bus.sticky(rooms.TASK_STATE.format(task_id=task_id))
        if state is None:
            raise RoomDenied(NOT_FOUND)
        task = ctx.concerns.learn_task(task_id, state)
    if not sees_task(principal, task):
        raise RoomDenied(NOT_FOUND)
    if not may_read_task(principal, task):
        raise RoomDenied(FORBIDDEN)
    return TaskView(principal, task_id, ctx.concerns)


async def _command(principal: Principal, match: RoomMatch, ctx: Context) -> View | None:
    """Someone else's command is not found; one not decided yet may be waited for (after a 202),
    and its outcome is delivered only if it turns out to be the subscriber's."""
    outcome = await ctx.bus.sticky(match.room)
    if outcome is not None and outcome.data().get("requester") != principal.username:
        raise RoomDenied(NOT_FOUND)
    return CommandView(principal.username)


async def _concerning(principal: Principal, match: RoomMatch, ctx: Context) -> View | None:
    """Every user's alerts, events and media arrive in one room; a user who reads no robot and no task
    would never receive anything of it."""
    if not (principal.holds(Permission.robot_read) or principal.holds(Permission.task_read)):
        raise RoomDenied(FORBIDDEN)
    return ConcernView(principal, ctx.concerns)


RULES: dict[RoomTemplate, Rule] = {
    rooms.BUILDING_MAP: _open,
    rooms.DOOR_STATE: _door,
    rooms.LIFT_STATE: _lift,
    rooms.DISPENSER_STATE: _open,
    rooms.INGESTOR_STATE: _open,
    rooms.FLEET_STATE: _fleet_state,
    rooms.FLEET_LOG: _fleet_log,
    rooms.TASK_STATE: _task,
    rooms.TASK_LOG: _task,
    rooms.ALERT_REQUESTS: _concerning,
    rooms.ALERT_RESPONSES: _concerning,
    rooms.BEACONS: _open,
    rooms.BEACON_STATE: _open,
    rooms.EVENTS: _concerning,
    rooms.FIRE_ALARM_TRIGGER: _open,
    rooms.DELIVERY_ALERTS: _concerning,
    rooms.RIOS: _open,
    rooms.MEDIA: _concerning,
    rooms.ALERT_MEDIA: _concerning,
    rooms.FLEET_MEDIA: _fleet_media,
    rooms.TASK_MEDIA: _task,
    rooms.EVENT_MEDIA: _concerning,
    rooms.COMMAND: _command,
}


async def authorize(principal: Principal, match: RoomMatch, ctx: Context) -> View | None:
    """The subscriber's view of the room (None: everything), or :class:`RoomDenied`."""
    if principal.is_admin:
        return None
    rule = RULES.get(match.template)
    if rule is None:
        raise RoomDenied(FORBIDDEN)
    return await rule(principal, match, ctx)


__all__ = [
    "FORBIDDEN",
    "NOT_FOUND",
    "RULES",
    "Context",
    "RoomDenied",
    "View",
    "authorize",
    "presented",
]
