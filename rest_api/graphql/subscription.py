"""The Subscription root: rooms from the bus, with socket.io's resume rules.

One bus listener per API process (:class:`Rooms`) hands each publication to
the subscriptions of its room; it listens only while there are subscriptions,
so an API process without any does not read the bus. A subscription registers before it reads
the room's sticky value or history, buffers what arrives meanwhile and
merges both (:mod:`fleetcore.bus.recovery`), so nothing falls between.
``since`` (and ``epoch``) resume: a log room replays what came after
``since``, a state room sends its latest value if newer; an epoch that
moved on or a position the bus no longer holds yields a ``resync`` update
(reload with a query), as the proxy answers. A subscriber too slow for its
buffer gets a resync too, instead of holding the process's memory.
Each update passes the same visibility rules as REST's reads.

Fan-out is shared as the proxy's is: subscribers shown the same bytes of a
publication (one view) get the same :class:`RoomUpdate`, which graphql-core
executes once per document and variables (:class:`SharedExecution`); the
result's JSON is encoded once and spliced into each subscriber's ``next``
message, which alone carries the operation's id (:func:`next_message`).
"""

import asyncio
import re
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
import strawberry
from aiohttp import web
from graphql import ExecutionResult
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from fleetcore.auth import Principal
from fleetcore.auth.visibility import (
    event_concern,
    may_read_concern,
    readable_robots,
    reads_fleet,
)
from fleetcore.bus import recovery
from fleetcore.bus.base import Bus
from fleetcore.contract.envelope import Publication
from fleetcore.contract.rooms import (
    ALERT_MEDIA,
    ALERT_REQUESTS,
    ALERT_RESPONSES,
    BEACON_STATE,
    BEACONS,
    BUILDING_MAP,
    COMMAND,
    DELIVERY_ALERTS,
    DISPENSER_STATE,
    DOOR_STATE,
    EVENT_MEDIA,
    EVENTS,
    FIRE_ALARM_TRIGGER,
    FLEET_LOG,
    FLEET_MEDIA,
    FLEET_STATE,
    INGESTOR_STATE,
    LIFT_STATE,
    MEDIA,
    RIOS,
    TASK_LOG,
    TASK_MEDIA,
    TASK_STATE,
    RoomKind,
    RoomTemplate,
    match_room,
)
from fleetcore.errors import UnknownRoom, UnrecoverablePosition
from rest_api.graphql.context import Context, Refusal
from rest_api.graphql.types import Long, RoomUpdate
from rest_api.keys import BUS_KEY, MAP_IMAGES_KEY
from rest_api.routes.alerts import visible_alert
from rest_api.routes.commands import sent_command
from rest_api.visibility import (
    alert_visible,
    fleet_log_view,
    fleet_state_view,
    task_row,
    task_row_visible,
)

BUFFER = 1000
"""Publications one subscription may have waiting; past it the subscriber must resync."""
SHARED_UPDATES = 4096
"""Recent (publication, view) updates kept for sharing; an evicted one is only built again."""
SHARED_UPDATE_BYTES = 8 << 20
"""...and at most this many bytes of their data as shown (each also holds its parsed data and
its encoded results, a few times as much): large fleet states keep fewer, not more memory."""

Render = Callable[[Principal, Publication], Awaitable[bytes | None]]


@dataclass(eq=False)
class _Subscriber:
    kind: RoomKind
    queue: asyncio.Queue[Publication | str] = field(default_factory=lambda: asyncio.Queue(BUFFER))
    overflowed: bool = False

    def offer(self, item: Publication | str) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class Rooms:
    """The process's subscriptions by room, fed by one bus listener while there are any."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._rooms: dict[str, set[_Subscriber]] = {}
        self._updates: OrderedDict[tuple[int, int, str, bytes], RoomUpdate] = OrderedDict()
        self._held_bytes = 0

    def update(self, pub: Publication, shown: bytes) -> RoomUpdate:
        """The update of ``pub`` as ``shown``, one for every subscriber it is shown to so:
        its data is parsed once and its executions are shared."""
        key = (pub.epoch, pub.seq, pub.room, shown)
        update = self._updates.get(key)
        if update is None:
            update = RoomUpdate(
                room=pub.room,
                seq=pub.seq,
                epoch=pub.epoch,
                received_ms=pub.received_ms,
                data=orjson.loads(shown),
                resync=None,
            )
            self._updates[key] = update
            self._held_bytes += len(shown)
            while len(self._updates) > 1 and (
                len(self._updates) > SHARED_UPDATES or self._held_bytes > SHARED_UPDATE_BYTES
            ):
                (_, _, _, evicted), _ = self._updates.popitem(last=False)
                self._held_bytes -= len(evicted)
        return update

    async def on_publications(self, batch: Sequence[Publication]) -> None:
        for pub in batch:
            for sub in self._rooms.get(pub.room, ()):
                sub.offer(pub)

    async def on_resync(self, reason: str) -> None:
        for subs in self._rooms.values():
            for sub in subs:
                if sub.kind is RoomKind.LOG:
                    sub.offer(reason)

    def join(self, room: str, kind: RoomKind) -> _Subscriber:
        """Subscribe; the first subscription starts the listening (await ``bus.listening()``)."""
        if not self._rooms:
            self._bus.add_listener(self.on_publications)
            self._bus.add_resync_listener(self.on_resync)
        sub = _Subscriber(kind)
        self._rooms.setdefault(room, set()).add(sub)
        return sub

    def leave(self, room: str, sub: _Subscriber) -> None:
        subs = self._rooms.get(room, set())
        subs.discard(sub)
        if not subs:
            self._rooms.pop(room, None)
            if not self._rooms:
                self._bus.remove_listener(self.on_publications)
                self._bus.remove_resync_listener(self.on_resync)


ROOMS_KEY = web.AppKey("rest_api_graphql_rooms", Rooms)


async def rooms_lifetime(app: web.Application) -> AsyncGenerator[None, None]:
    """The app's subscriptions (``cleanup_ctx``); each ends with its websocket, before this."""
    app[ROOMS_KEY] = Rooms(app[BUS_KEY])
    yield


async def follow(
    info: Info[Context, None],
    template: RoomTemplate,
    render: Render,
    since: int | None,
    epoch: int | None,
    **params: str,
) -> AsyncGenerator[RoomUpdate, None]:
    principal = info.context.user
    try:
        room = template.format(**params)
    except UnknownRoom as exc:
        raise Refusal("BAD_USER_INPUT", str(exc)) from None
    app = info.context.app
    bus, rooms = app[BUS_KEY], app[ROOMS_KEY]
    sub = rooms.join(room, template.kind)
    try:
        await bus.listening()
        position = await bus.position()
        initial: list[Publication] = []
        reason = ""
        if since is not None and epoch is not None and epoch != position.epoch:
            reason = f"the hub's epoch changed from {epoch} to {position.epoch}"
        elif template.kind is RoomKind.STATE:
            sticky = await bus.sticky(room)
            initial = [sticky] if sticky is not None else []
        elif since is not None:
            try:
                initial = await bus.history(room, since)
            except UnrecoverablePosition as exc:
                reason = str(exc)
        if reason:
            yield _resync(room, reason, position.seq, position.epoch)
        buffered: list[Publication] = []
        while not sub.queue.empty():
            item = sub.queue.get_nowait()
            if isinstance(item, Publication):
                buffered.append(item)
        last = since or 0
        merge = recovery.latest if template.kind is RoomKind.STATE else None
        first = (
            merge((*initial, *buffered), last)
            if merge is not None
            else recovery.merge(initial, buffered, last)
        )
        for pub in first:
            last = pub.seq
            update = await _update(principal, pub, render, rooms)
            if update is not None:
                yield update
        while True:
            if sub.overflowed:
                position = await bus.position()
                yield _resync(room, "too slow: updates were dropped", position.seq, position.epoch)
                rooms.leave(room, sub)
                sub = rooms.join(room, template.kind)
            item = await sub.queue.get()
            if isinstance(item, str):
                position = await bus.position()
                yield _resync(room, item, position.seq, position.epoch)
                continue
            if item.seq <= last:
                continue
            last = item.seq
            update = await _update(principal, item, render, rooms)
            if update is not None:
                yield update
    finally:
        rooms.leave(room, sub)


async def _update(
    principal: Principal, pub: Publication, render: Render, rooms: Rooms
) -> RoomUpdate | None:
    shown = await render(principal, pub)
    return None if shown is None else rooms.update(pub, shown)


class _Encoded(dict[str, Any]):
    """A result's data that keeps its JSON once encoded, for every subscriber it is sent to."""

    __slots__ = ("_json",)
    _json: bytes

    def json(self) -> bytes:
        if not hasattr(self, "_json"):
            self._json = orjson.dumps(self)
        return self._json


class SharedExecution(StrawberryGraphQLCoreExecutionContext):
    """Executes a subscription's selection on an update once per document and variables.

    An update's fields are plain values (no resolver reads the context), so the
    result depends on the update, the operation and the variables alone: the
    subscribers shown the same update share it. A result with errors is not
    shared (each subscription's extensions process its own).
    """

    def execute_operation(self, serially: bool | None = None) -> Any:
        update = self.root_value
        if not isinstance(update, RoomUpdate) or update.resync is not None:
            return super().execute_operation(serially)
        try:
            variables = orjson.dumps(self.variable_values.coerced, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return super().execute_operation(serially)
        # By identity (an operation's own hash walks its whole tree); the entry holds the
        # operation, so its id is not reused while the entry lives.
        key = (id(self.operation), variables)
        entry = update.shared.get(key)
        if entry is not None and entry[0] is self.operation:
            return entry[1]
        result = super().execute_operation(serially)
        if isinstance(result, ExecutionResult) and not result.errors and result.data is not None:
            result = ExecutionResult(_Encoded(result.data), None, result.extensions)
            update.shared[key] = (self.operation, result)
        return result


def next_message(message: Any) -> str | None:
    """A ``next`` message of shared data, its JSON spliced in; None for any other message."""
    if not isinstance(message, dict) or message.get("type") != "next":
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict) or len(payload) != 1:
        return None
    data = payload.get("data")
    if not isinstance(data, _Encoded):
        return None
    head = b'{"id":' + orjson.dumps(message["id"]) + b',"type":"next","payload":{"data":'
    return (head + data.json() + b"}}").decode()


def _resync(room: str, reason: str, seq: int, epoch: int) -> RoomUpdate:
    return RoomUpdate(room=room, seq=seq, epoch=epoch, received_ms=None, data=None, resync=reason)


async def _as_published(principal: Principal, pub: Publication) -> bytes | None:
    return pub.data_json


async def _fleet(principal: Principal, pub: Publication) -> bytes | None:
    return fleet_state_view(principal, pub.data_json)


async def _fleet_log(principal: Principal, pub: Publication) -> bytes | None:
    return fleet_log_view(principal, pub.data_json)


async def _task(principal: Principal, pub: Publication) -> bytes | None:
    task_id = match_room(pub.room).params["task_id"]
    return pub.data_json if await task_row_visible(principal, task_id) else None


async def _alert(principal: Principal, pub: Publication) -> bytes | None:
    return pub.data_json if await alert_visible(principal, orjson.loads(pub.data_json)) else None


async def _response(principal: Principal, pub: Publication) -> bytes | None:
    """A response is seen by who sees its alert."""
    if principal.is_admin:
        return pub.data_json
    alert_id = str(orjson.loads(pub.data_json).get("id", ""))
    return pub.data_json if await visible_alert(principal, alert_id) is not None else None


async def _event(principal: Principal, pub: Publication) -> bytes | None:
    """A derived event, delivery alert or new media: shown to readers of its robot or fleet,
    else of its task (as socket.io's rooms show them)."""
    if principal.is_admin:
        return pub.data_json
    concern = event_concern(orjson.loads(pub.data_json))
    task = None
    if concern.fleet is None and concern.task_id is not None:
        task = await task_row(concern.task_id)
    return pub.data_json if may_read_concern(principal, concern, task) else None


async def _fleet_media(principal: Principal, pub: Publication) -> bytes | None:
    """A fleet's new media, of the robots the subscriber may read."""
    data = orjson.loads(pub.data_json)
    readable = readable_robots(principal, str(data.get("fleet", "")))
    return pub.data_json if readable is None or data.get("robot") in readable else None


async def _own_command(principal: Principal, pub: Publication) -> bytes | None:
    """A command's outcome, for the user who sent it (and administrators), as the query shows it."""
    if principal.is_admin:
        return pub.data_json
    sender = orjson.loads(pub.data_json).get("requester")
    return pub.data_json if sender == principal.username else None


Sees = Callable[[Principal, str], Awaitable[bool]]
"""Whether the user may see the object of that name at all (else: not found, as REST's 404)."""


def _at_once(sees: Callable[[Principal, str], bool]) -> Sees:
    async def judged(principal: Principal, name: str) -> bool:
        return sees(principal, name)

    return judged


_EVERYONE = _at_once(lambda principal, name: True)


def _one(template: RoomTemplate, param: str, kind: str, sees: Sees, render: Render) -> Any:
    """A subscription to one object's room, by the room's ``param`` (the REST path's parameter).

    Another group's object is refused as ``NOT_FOUND``, as REST and socket.io answer.
    """
    argument = strawberry.argument(name=re.sub(r"_(.)", lambda m: m[1].upper(), param))

    async def subscribe(
        info: Info[Context, None],
        key: Annotated[str, argument],
        since: Long | None = None,
        epoch: Long | None = None,
    ) -> AsyncGenerator[RoomUpdate, None]:
        if not await sees(info.context.user, key):
            raise Refusal("NOT_FOUND", f"no {kind} {key!r}")
        async for update in follow(info, template, render, since, epoch, **{param: key}):
            yield update

    return strawberry.subscription(subscribe)


def _every(template: RoomTemplate, render: Render) -> Any:
    """A subscription to a room of everything, each update shown only if the user may see it."""

    async def subscribe(
        info: Info[Context, None], since: Long | None = None, epoch: Long | None = None
    ) -> AsyncGenerator[RoomUpdate, None]:
        async for update in follow(info, template, render, since, epoch):
            yield update

    return strawberry.subscription(subscribe)


def _command() -> Any:
    """A command's outcome by its key, for who may read it with ``command(key:)``; one not
    decided yet (a ``pending`` answer) is waited for."""

    async def subscribe(
        info: Info[Context, None], key: str, since: Long | None = None, epoch: Long | None = None
    ) -> AsyncGenerator[RoomUpdate, None]:
        if await sent_command(info.context.user, key) is None:
            raise Refusal("NOT_FOUND", f"no command {key!r}")
        async for update in follow(info, COMMAND, _own_command, since, epoch, key=key):
            yield update

    return strawberry.subscription(subscribe)


def _building_map() -> Any:
    """The building map, its images as signed URLs for the subscriber's origin (as the query)."""

    async def subscribe(
        info: Info[Context, None], since: Long | None = None, epoch: Long | None = None
    ) -> AsyncGenerator[RoomUpdate, None]:
        urls = info.context.app[MAP_IMAGES_KEY]
        base_url = urls.base_url(info.context.request)

        async def signed(principal: Principal, pub: Publication) -> bytes | None:
            return urls.absolute(pub.data_json, base_url, urls.period())

        async for update in follow(info, BUILDING_MAP, signed, since, epoch):
            yield update

    return strawberry.subscription(subscribe)


@strawberry.type
class Subscription:
    """The REST resources' rooms: a state room sends its latest value, a log room replays ``since``."""

    fleet_state = _one(FLEET_STATE, "name", "fleet", _at_once(reads_fleet), _fleet)
    task_state = _one(TASK_STATE, "task_id", "task", task_row_visible, _task)
    task_log = _one(TASK_LOG, "task_id", "task", task_row_visible, _task)
    door_state = _one(DOOR_STATE, "name", "door", _at_once(Principal.sees_door), _as_published)
    lift_state = _one(LIFT_STATE, "name", "lift", _at_once(Principal.sees_lift), _as_published)
    alerts = _every(ALERT_REQUESTS, _alert)
    alert_responses = _every(ALERT_RESPONSES, _response)
    events = _every(EVENTS, _event)
    dispenser_state = _one(DISPENSER_STATE, "guid", "dispenser", _EVERYONE, _as_published)
    ingestor_state = _one(INGESTOR_STATE, "guid", "ingestor", _EVERYONE, _as_published)
    fleet_log = _one(FLEET_LOG, "name", "fleet", _at_once(reads_fleet), _fleet_log)
    fire_alarm_trigger = _every(FIRE_ALARM_TRIGGER, _as_published)
    beacons = _every(BEACONS, _as_published)
    beacon_state = _one(BEACON_STATE, "id", "beacon", _EVERYONE, _as_published)
    rios = _every(RIOS, _as_published)
    delivery_alerts = _every(DELIVERY_ALERTS, _event)
    media = _every(MEDIA, _event)
    alert_media = _every(ALERT_MEDIA, _event)
    event_media = _every(EVENT_MEDIA, _event)
    fleet_media = _one(FLEET_MEDIA, "name", "fleet", _at_once(reads_fleet), _fleet_media)
    task_media = _one(TASK_MEDIA, "task_id", "task", task_row_visible, _task)
    command = _command()
    building_map = _building_map()
