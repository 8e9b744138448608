"""The Query root: what REST's GET routes serve, read by the same functions and the same rules.

Another group's object is null (a list leaves it out), as REST answers 404.
Task lists are keyset connections in any of ``/tasks``'s column orders
(stable while tasks change, unlike offsets; :mod:`rest_api.graphql.task_pages`);
filters are ``/tasks``'s, validated by its model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from fleetcore.auth import Principal
from fleetcore.contract.envelope import Publication
from fleetcore.contract.rooms import (
    BEACON_STATE,
    BUILDING_MAP,
    DISPENSER_STATE,
    FIRE_ALARM_TRIGGER,
    FLEET_STATE,
    INGESTOR_STATE,
    RoomTemplate,
    match_room,
)
from rest_api.graphql.context import Context, Refusal, validated
from rest_api.graphql.task_pages import TaskOrder, cursor, sort_key, task_rows
from rest_api.graphql.types import (
    JSON,
    Alert,
    Device,
    Event,
    Fleet,
    Grant,
    Long,
    PageInfo,
    Position,
    Task,
    TaskConnection,
    TaskEdge,
    User,
    Workcell,
    fleet_view,
)
from rest_api.keys import BUS_KEY, MAP_IMAGES_KEY
from rest_api.query import MAX_LIMIT, LogQuery, TaskQuery
from rest_api.rooms import latest, reported
from rest_api.routes.alerts import unresponded_alerts, visible_alert
from rest_api.routes.auth import permission_pairs, user_view
from rest_api.routes.commands import sent_command
from rest_api.routes.devices import doors_of, lifts_of
from rest_api.routes.events import EventQuery, event_page
from rest_api.routes.favorite_tasks import favorite_tasks
from rest_api.routes.fleets import fleet_log
from rest_api.routes.scheduled_tasks import ScheduledTasksQuery, scheduled_task, scheduled_tasks
from rest_api.routes.tasks import visible_tasks
from rest_api.visibility import visible_alerts


@strawberry.input
class TaskFilter:
    """``/tasks``'s filters: every given one must hold; a list matches any of its items."""

    task_id: list[str] | None = None
    category: list[str] | None = None
    assigned_to: list[str] | None = None
    status: list[str] | None = None
    requester: list[str] | None = None
    label: list[str] | None = strawberry.field(default=None, description="name=value items.")
    start_time_between: str | None = strawberry.field(
        default=None, description="'start,end' in unix millis, or '-N' for the last N millis."
    )
    finish_time_between: str | None = None
    request_time_between: str | None = None


@strawberry.input
class EventFilter:
    """``/events``'s filters."""

    kind: list[str] | None = None
    fleet: list[str] | None = None
    robot: list[str] | None = None
    task_id: list[str] | None = None
    between: str | None = None


def _user(info: Info[Context, None]) -> Principal:
    return info.context.user


@strawberry.type
class Query:
    @strawberry.field
    async def position(self, info: Info[Context, None]) -> Position:
        """The stream's position now: subscribe from it after reading a snapshot."""
        position = await info.context.app[BUS_KEY].position()
        return Position(seq=position.seq, epoch=position.epoch)

    @strawberry.field
    async def me(self, info: Info[Context, None]) -> User:
        """The logged-in user, their roles and what those grant (``/user``, ``/permissions``)."""
        username = _user(info).username
        user = await user_view(username)
        grants = [Grant(**pair) for pair in await permission_pairs(username)]
        return User(
            username=user["username"],
            is_admin=user["is_admin"],
            roles=user["roles"],
            permissions=grants,
        )

    @strawberry.field
    async def fleets(self, info: Info[Context, None]) -> list[Fleet]:
        """Every fleet with a robot the user may read, with only those robots."""
        pubs = await reported(info.context.app[BUS_KEY], FLEET_STATE)
        views = (fleet_view(_user(info), pub) for pub in pubs)
        return [fleet for fleet in views if fleet is not None]

    @strawberry.field
    async def fleet(self, info: Info[Context, None], name: str) -> Fleet | None:
        pub = await info.context.loaders.fleets.load(name)
        return None if pub is None else fleet_view(_user(info), pub)

    @strawberry.field
    async def fleet_log(
        self, info: Info[Context, None], name: str, between: str = "-60000"
    ) -> JSON | None:
        """``/fleets/{name}/log?between=``: null for another group's fleet or one never reported."""
        period = validated(LogQuery, {"between": between})
        return await fleet_log(info.context.app[BUS_KEY], _user(info), name, period.between)

    @strawberry.field
    async def tasks(
        self,
        info: Info[Context, None],
        filter: TaskFilter | None = None,
        first: int = 100,
        after: str | None = None,
        order_by: TaskOrder = TaskOrder.ID,
        descending: bool = False,
    ) -> TaskConnection:
        """Tasks matching ``filter`` the user may read, ``first`` at a time, in ``/tasks``'s
        ``order_by`` order: the column, ties by task id. ``after`` is a cursor of the same order."""
        if not 1 <= first <= MAX_LIMIT:
            raise Refusal("BAD_USER_INPUT", f"first: must be 1..{MAX_LIMIT}")
        raw = {} if filter is None else dict(vars(filter))
        query: TaskQuery = validated(TaskQuery, raw)
        position = await info.context.app[BUS_KEY].position()
        key = sort_key(order_by, descending)
        rows = await task_rows(visible_tasks(query, _user(info)), key, after, first)
        edges = [TaskEdge(cursor=cursor(key, row), node=Task.of(row)) for row in rows[:first]]
        return TaskConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            position=Position(seq=position.seq, epoch=position.epoch),
        )

    @strawberry.field
    async def task(self, info: Info[Context, None], id: strawberry.ID) -> Task | None:
        """A task by id; null when unknown or the user may not read it (REST: 404)."""
        row = await info.context.loaders.tasks.load(str(id))
        return None if row is None else Task.of(row)

    @strawberry.field
    async def alert(self, info: Info[Context, None], id: str) -> Alert | None:
        row = await visible_alert(_user(info), id)
        return None if row is None else Alert.of(row.data)

    @strawberry.field
    async def unresponded_alerts(self, info: Info[Context, None], first: int = 100) -> list[Alert]:
        """Alerts expecting a response with none yet, newest first (``/alerts/unresponded_requests``)."""
        if not 1 <= first <= MAX_LIMIT:
            raise Refusal("BAD_USER_INPUT", f"first: must be 1..{MAX_LIMIT}")
        principal = _user(info)
        if principal.is_admin:
            rows: list[Any] = await unresponded_alerts().limit(first).values_list("data", flat=True)
            return [Alert.of(row) for row in rows]
        everything: list[Any] = await unresponded_alerts().values_list("data", flat=True)
        return [Alert.of(data) for data in (await visible_alerts(principal, everything))[:first]]

    @strawberry.field
    async def events(
        self,
        info: Info[Context, None],
        filter: EventFilter | None = None,
        after: Long | None = None,
        before: Long | None = None,
        first: int = 100,
    ) -> list[Event]:
        """Derived events, a keyset page as ``/events``: ``after`` oldest first, else newest first."""
        raw = {} if filter is None else dict(vars(filter))
        query: EventQuery = validated(
            EventQuery, {**raw, "after": after, "before": before, "limit": first}
        )
        rows = await event_page(query, _user(info))
        return [Event.of(seq, data) for seq, data in rows]

    @strawberry.field
    async def building_map(self, info: Info[Context, None]) -> JSON | None:
        """The building map, its images as signed URLs (as ``/building_map``)."""
        pub = await latest(info.context.app[BUS_KEY], BUILDING_MAP)
        if pub is None:
            return None
        urls = info.context.app[MAP_IMAGES_KEY]
        return orjson.loads(
            urls.absolute(pub.data_json, urls.base_url(info.context.request), urls.period())
        )

    @strawberry.field
    async def doors(self, info: Info[Context, None]) -> list[Device]:
        """The building map's doors in one of the user's groups, with their states."""
        loader = info.context.loaders.doors
        return await _devices(info, doors_of, _user(info).sees_door, loader)

    @strawberry.field
    async def lifts(self, info: Info[Context, None]) -> list[Device]:
        """The building map's lifts in one of the user's groups, with their states."""
        loader = info.context.loaders.lifts
        return await _devices(info, lifts_of, _user(info).sees_lift, loader)

    @strawberry.field
    async def dispensers(self, info: Info[Context, None]) -> list[Workcell]:
        """Every dispenser that has reported a state (``/dispensers``), with that state."""
        return await _workcells(info, DISPENSER_STATE)

    @strawberry.field
    async def dispenser(self, info: Info[Context, None], guid: str) -> Workcell | None:
        """``/dispensers/{guid}/state``; null when it never reported."""
        return await _workcell(info, DISPENSER_STATE, guid)

    @strawberry.field
    async def ingestors(self, info: Info[Context, None]) -> list[Workcell]:
        """Every ingestor that has reported a state (``/ingestors``), with that state."""
        return await _workcells(info, INGESTOR_STATE)

    @strawberry.field
    async def ingestor(self, info: Info[Context, None], guid: str) -> Workcell | None:
        """``/ingestors/{guid}/state``; null when it never reported."""
        return await _workcell(info, INGESTOR_STATE, guid)

    @strawberry.field
    async def beacons(self, info: Info[Context, None]) -> list[JSON]:
        """Every beacon's latest state, by id (``/beacons``)."""
        pubs = await reported(info.context.app[BUS_KEY], BEACON_STATE)
        return [orjson.loads(pub.data_json) for pub in pubs]

    @strawberry.field
    async def beacon(self, info: Info[Context, None], id: str) -> JSON | None:
        """``/beacons/{id}``; null when it never reported."""
        pub = await latest(info.context.app[BUS_KEY], BEACON_STATE, id=id)
        return None if pub is None else orjson.loads(pub.data_json)

    @strawberry.field
    async def fire_alarm_trigger(self, info: Info[Context, None]) -> JSON | None:
        """``/building_map/previous_fire_alarm_trigger``; null until RMF reported one."""
        pub = await latest(info.context.app[BUS_KEY], FIRE_ALARM_TRIGGER)
        return None if pub is None else orjson.loads(pub.data_json)

    @strawberry.field
    async def scheduled_tasks(
        self,
        info: Info[Context, None],
        start_before: str | None = None,
        until_after: str | None = None,
        first: int = 100,
        offset: int = 0,
    ) -> list[JSON]:
        """``/scheduled_tasks``: the user's own (an admin's: all), oldest first."""
        raw = {"start_before": start_before, "until_after": until_after}
        query: ScheduledTasksQuery = validated(
            ScheduledTasksQuery, {**raw, "limit": first, "offset": offset}
        )
        return await scheduled_tasks(_user(info), query)

    @strawberry.field
    async def scheduled_task(self, info: Info[Context, None], id: str) -> JSON | None:
        """``/scheduled_tasks/{id}``: null for another user's or an unknown one."""
        return await scheduled_task(_user(info), id)

    @strawberry.field
    async def favorite_tasks(self, info: Info[Context, None]) -> list[JSON]:
        """``/favorite_tasks``: the user's own saved task forms."""
        return await favorite_tasks(_user(info).username)

    @strawberry.field
    async def command(self, info: Info[Context, None], key: str) -> JSON | None:
        """A command's status and outcome by its key; only its sender's (and admins')."""
        record = await sent_command(_user(info), key)
        return None if record is None else record.outcome()


async def _devices(
    info: Info[Context, None],
    items: Callable[[dict[str, Any]], list[Any]],
    sees: Callable[[str], bool],
    states: DataLoader[str, Publication | None],
) -> list[Device]:
    """The map's devices of one kind the user sees, each with its state (one bus read)."""
    pub = await latest(info.context.app[BUS_KEY], BUILDING_MAP)
    building = {} if pub is None else orjson.loads(pub.data_json)
    shown = [item for item in items(building) if sees(str(item.get("name")))]
    found = await states.load_many([str(item.get("name")) for item in shown])
    return [_device(item, state) for item, state in zip(shown, found, strict=True)]


def _device(item: dict[str, Any], pub: Publication | None) -> Device:
    return Device(
        name=str(item.get("name")),
        map=item,
        state=None if pub is None else orjson.loads(pub.data_json),
    )


async def _workcells(info: Info[Context, None], template: RoomTemplate) -> list[Workcell]:
    """Dispensers and ingestors are every authenticated user's, as in REST and socket.io."""
    pubs = await reported(info.context.app[BUS_KEY], template)
    return [_workcell_of(pub) for pub in pubs]


async def _workcell(
    info: Info[Context, None], template: RoomTemplate, guid: str
) -> Workcell | None:
    pub = await latest(info.context.app[BUS_KEY], template, guid=guid)
    return None if pub is None else _workcell_of(pub)


def _workcell_of(pub: Publication) -> Workcell:
    return Workcell(guid=match_room(pub.room).params["guid"], state=orjson.loads(pub.data_json))
