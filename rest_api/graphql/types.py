"""The schema's object types: typed where clients filter and join, RMF's JSON where they render.

RMF's states are deep and versioned by RMF, not by fleethub; they travel as
the ``JSON`` scalar, exactly the bytes REST serves, so a GraphQL client and a
REST client see the same thing. What a screen selects on (ids, statuses,
robots, times) is typed, and what links objects (a task's robot, a robot's
task, an alert's response) is a field loaded in batches.
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Any, NewType

import orjson
import strawberry
from strawberry.types import Info

from fleetcore.auth import Principal
from fleetcore.contract.envelope import Publication
from fleetcore.store import models as db
from rest_api.graphql.context import Context, JsonObject, validated
from rest_api.query import LogQuery
from rest_api.routes.events import HistoryQuery
from rest_api.visibility import fleet_state_view, visible_alerts

if TYPE_CHECKING:
    # What resolvers handle: RMF's JSON, and plain ints for the schema's Long.
    JSON = Any
    Long = int
else:
    from strawberry.scalars import JSON

    Long = NewType("Long", int)
    """A 64-bit integer (unix millis, seqs); the schema's ``Long`` (:data:`SCALARS`)."""
SCALARS: dict[object, Any] = {
    Long: strawberry.scalar(
        name="Long",
        description="A 64-bit integer (unix millis, seqs): GraphQL's Int has 32 bits.",
        serialize=int,
        parse_value=int,
    )
}


@strawberry.type
class Position:
    """The stream position an answer reflects: subscribe with ``since: seq`` to miss nothing."""

    seq: Long
    epoch: Long


@strawberry.type
class LogEntry:
    seq: Long
    tier: str
    unix_millis_time: Long
    text: str


def log_entry_of(entry: JsonObject | None) -> LogEntry | None:
    return None if entry is None else LogEntry(**entry)


@strawberry.type
class PositionSample:
    unix_millis_time: Long
    map: str
    x: float
    y: float
    yaw: float
    status: str | None
    battery: float | None


@strawberry.type
class Robot:
    """A robot as its fleet's latest state reports it."""

    fleet: str
    name: str
    state: JSON

    @strawberry.field
    def status(self) -> str | None:
        return _text(self.state.get("status"))

    @strawberry.field
    def battery_soc(self) -> float | None:
        value = self.state.get("battery")
        return float(value) if isinstance(value, int | float) else None

    @strawberry.field
    def task_id(self) -> str | None:
        return _text(self.state.get("task_id"))

    @strawberry.field
    async def history(
        self, info: Info[Context, None], between: str = "-3600000", first: int = 1000
    ) -> list[PositionSample]:
        """Downsampled positions in a period, oldest first (``/robots/{fleet}/{robot}/history``;
        the robots of one answer asking the same period are one query)."""
        validated(HistoryQuery, {"between": between, "limit": first})
        key = ((self.fleet, self.name), (between, first))
        return [PositionSample(**row) for row in await info.context.loaders.histories.load(key)]

    @strawberry.field
    async def task(self, info: Info[Context, None]) -> Task | None:
        """The task the robot is doing, if the user may read it."""
        task_id = _text(self.state.get("task_id"))
        if not task_id:
            return None
        row = await info.context.loaders.tasks.load(task_id)
        return None if row is None else Task.of(row)


@strawberry.type
class Fleet:
    name: str
    state: JSON
    """RMF's FleetState with only the robots the user may read (as ``/fleets/{name}/state``)."""

    @strawberry.field
    def robots(self) -> list[Robot]:
        robots = self.state.get("robots") or {}
        return [Robot(fleet=self.name, name=name, state=robots[name]) for name in sorted(robots)]


def fleet_view(principal: Principal, pub: Publication) -> Fleet | None:
    """The fleet as ``/fleets/{name}/state`` shows it to the user, or None (no robot readable)."""
    shown = fleet_state_view(principal, pub.data_json)
    if shown is None:
        return None
    state = orjson.loads(shown)
    return Fleet(name=str(state.get("name", "")), state=state)


@strawberry.type
class Task:
    id: strawberry.ID
    category: str | None
    status: str | None
    assigned_group: str | None
    assigned_to: str | None
    requester: str | None
    unix_millis_start_time: Long | None
    unix_millis_finish_time: Long | None
    unix_millis_request_time: Long | None
    seq: Long
    state: JSON
    """RMF's TaskState, as ``/tasks`` lists it."""

    @classmethod
    def of(cls, row: db.TaskState) -> Task:
        return cls(
            id=strawberry.ID(row.id),
            category=row.category,
            status=row.status,
            assigned_group=row.assigned_group,
            assigned_to=row.assigned_to,
            requester=row.requester,
            unix_millis_start_time=row.unix_millis_start_time,
            unix_millis_finish_time=row.unix_millis_finish_time,
            unix_millis_request_time=row.unix_millis_request_time,
            seq=row.seq,
            state=orjson.loads(row.data),
        )

    @strawberry.field
    async def request(self, info: Info[Context, None]) -> JSON | None:
        """The request the task was dispatched with (``/tasks/{id}/request``)."""
        text = await info.context.loaders.requests.load(str(self.id))
        return None if text is None else orjson.loads(text)

    @strawberry.field
    async def latest_log(self, info: Info[Context, None]) -> LogEntry | None:
        """The task's newest log entry, of any phase or event."""
        return log_entry_of(await info.context.loaders.latest_logs.load(str(self.id)))

    @strawberry.field
    async def log(self, info: Info[Context, None], between: str = "-60000") -> JSON:
        """The task's log in a period, as ``/tasks/{id}/log?between=`` (the tasks of one answer
        asking the same period are two queries)."""
        validated(LogQuery, {"between": between})
        return await info.context.loaders.task_logs.load((str(self.id), between))

    @strawberry.field
    async def robot(self, info: Info[Context, None]) -> Robot | None:
        """The robot the task is assigned to, from its fleet's state, if the user may read it."""
        if self.assigned_group is None or self.assigned_to is None:
            return None
        pub = await info.context.loaders.fleets.load(self.assigned_group)
        fleet = None if pub is None else fleet_view(info.context.user, pub)
        robots = {} if fleet is None else fleet.state.get("robots") or {}
        state = robots.get(self.assigned_to)
        if fleet is None or state is None:
            return None
        return Robot(fleet=fleet.name, name=self.assigned_to, state=state)

    @strawberry.field
    async def alerts(self, info: Info[Context, None]) -> list[Alert]:
        """The task's alerts the user may see, oldest first (``/alerts/requests/task/{id}``)."""
        rows = await info.context.loaders.task_alerts.load(str(self.id))
        return [Alert.of(data) for data in await visible_alerts(info.context.user, rows)]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class TaskEdge:
    cursor: str
    node: Task


@strawberry.type
class TaskConnection:
    edges: list[TaskEdge]
    page_info: PageInfo
    position: Position


@strawberry.type
class AlertResponse:
    id: str
    unix_millis_response_time: Long
    response: str
    responder: str


@strawberry.type
class Alert:
    id: str
    task_id: str | None
    tier: str | None
    title: str | None
    unix_millis_alert_time: Long | None
    data: JSON
    """rmf-web's AlertRequest."""

    @classmethod
    def of(cls, data_json: str | bytes) -> Alert:
        data = orjson.loads(data_json)
        return cls(
            id=str(data.get("id")),
            task_id=_text(data.get("task_id")),
            tier=_text(data.get("tier")),
            title=_text(data.get("title")),
            unix_millis_alert_time=data.get("unix_millis_alert_time"),
            data=data,
        )

    @strawberry.field
    async def response(self, info: Info[Context, None]) -> AlertResponse | None:
        """An operator's response (a hub resolution is ``/alerts/request/{id}/response``)."""
        text = await info.context.loaders.responses.load(self.id)
        return None if text is None else AlertResponse(**orjson.loads(text))


@strawberry.type
class Event:
    """One derived event as published on ``/events`` (``/events``'s Event)."""

    seq: Long
    kind: str | None
    severity: str | None
    unix_millis_time: Long | None
    fleet: str | None
    robot: str | None
    task_id: str | None
    detail: JSON | None

    @classmethod
    def of(cls, seq: int, data_json: str) -> Event:
        data = orjson.loads(data_json)
        return cls(
            seq=seq,
            kind=_text(data.get("kind")),
            severity=_text(data.get("severity")),
            unix_millis_time=data.get("unix_millis_time"),
            fleet=_text(data.get("fleet")),
            robot=_text(data.get("robot")),
            task_id=_text(data.get("task_id")),
            detail=data.get("detail"),
        )


@strawberry.type
class Device:
    """A door or a lift: its entry in the building map and its latest state."""

    name: str
    map: JSON
    state: JSON | None


@strawberry.type
class Workcell:
    """A dispenser or an ingestor: its guid and latest state (``/dispensers/{guid}/state``)."""

    guid: str
    state: JSON


@strawberry.type
class Grant:
    authz_grp: str
    action: str


@strawberry.type
class User:
    username: str
    is_admin: bool
    roles: list[str]
    permissions: list[Grant]


@strawberry.type
class CommandResult:
    """A command's outcome as REST answers it: RMF's response when done or failed, else pending.

    ``status``: ``done``, ``failed`` (RMF refused), ``pending`` (no answer yet:
    read ``command(key)`` or subscribe to it later) or ``unknown``.
    """

    command: str
    status: str
    response: JSON | None
    detail: str | None


@strawberry.type
class RoomUpdate:
    """One publication of a room, or a resync (``resync`` says why; reload from REST or a query)."""

    room: str
    seq: Long
    epoch: Long
    received_ms: Long | None
    data: JSON | None
    resync: str | None
    shared: strawberry.Private[dict[Any, Any]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """Its executions, by document and variables: subscribers shown this same update share
    them (:mod:`rest_api.graphql.subscription`)."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
