"""History readers: the derived-events feed and a robot's downsampled position history.

The events feed is what the hub published on ``/events``, filtered and keyset-paged.

Pages are keyed by seq, never by offset, so a page is stable while new
events arrive: ``after=S`` lists events after seq S oldest first (follow
the feed), ``before=S`` lists events before S newest first (scroll back);
with neither, the newest page. Each event carries its ``seq``; the next
page's key is the last item's seq.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from pypika_tortoise.analytics import RowNumber
from pypika_tortoise.queries import Table
from pypika_tortoise.terms import Criterion
from tortoise.query_api import execute_pypika

from fleetcore.auth import Permission, Principal
from fleetcore.store import models as db
from fleetcore.store.rows import plain_rows
from rest_api.access import principal_of, reads
from rest_api.keys import BUS_KEY
from rest_api.query import MAX_LIMIT, CommaList, Period, TimeRange
from rest_api.registry import ApiRoutes
from rest_api.responses import json_array, not_found, positioned
from rest_api.visibility import event_filter

SAMPLE_COLUMNS = ("unix_millis_time", "map", "x", "y", "yaw", "status", "battery")
"""A position sample as REST and GraphQL list it."""

routes = ApiRoutes("Events", access=reads(Permission.robot_read))

Seq = Annotated[int, Field(ge=0, lt=2**63)]


class Event(BaseModel):
    """One derived event as published on /events, with its seq."""

    seq: int
    kind: str
    severity: Literal["info", "warning", "error"]
    unix_millis_time: int
    fleet: str | None
    robot: str | None
    task_id: str | None
    detail: dict[str, Any]


class EventQuery(BaseModel):
    """``GET /events``: filters (all must hold) and a keyset page."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: CommaList = Field(None, description="Comma separated event kinds, e.g. robot_offline.")
    fleet: CommaList = Field(None, description="Comma separated fleet names.")
    robot: CommaList = Field(None, description="Comma separated robot names.")
    task_id: CommaList = Field(None, description="Comma separated task ids.")
    between: TimeRange = Field(None, description="Range of the event's time.")
    after: Seq | None = Field(None, description="Events after this seq, oldest first.")
    before: Seq | None = Field(None, description="Events before this seq, newest first.")
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = Field(100, description="Most events.")


@routes.get_query(
    "/events",
    query=EventQuery,
    response=list[Event],
    positioned=True,
)
async def query_events(request: web.Request, query: EventQuery) -> web.Response:
    """Derived events matching every given filter, one keyset page. Available in socket.io.

    ``after`` pages forward (oldest first), ``before`` backward (newest first);
    neither gives the newest page. Pass the last item's seq to get the next page.
    """
    position = await request.app[BUS_KEY].position()
    rows = await event_page(query, principal_of(request))
    return positioned(json_array(_with_seq(seq, data) for seq, data in rows), position)


async def event_page(query: EventQuery, principal: Principal) -> list[tuple[int, str]]:
    """(seq, JSON) of the events of one keyset page that ``principal`` may read (REST, GraphQL)."""
    filters: dict[str, Any] = {}
    for column in ("kind", "fleet", "robot", "task_id"):
        values = getattr(query, column)
        if values is not None:
            filters[f"{column}__in"] = values
    if query.between is not None:
        filters["unix_millis_time__gte"], filters["unix_millis_time__lte"] = query.between
    if query.after is not None:
        filters["seq__gt"] = query.after
        order = "seq"
    else:
        if query.before is not None:
            filters["seq__lt"] = query.before
        order = "-seq"
    events = db.DerivedEvent.filter(**filters)
    visible = event_filter(principal)
    if visible is not None:
        events = events.filter(visible)
    rows = await plain_rows(events.order_by(order).limit(query.limit).values_list("seq", "data"))
    return [(seq, data) for seq, data in rows]


def _with_seq(seq: int, data: str) -> bytes:
    """The stored event (a JSON object without a seq) with its seq first, spliced into its
    text: decoding and encoding each event again was most of a 1,000-event page's cost."""
    rest = data.strip()[1:].lstrip()
    return f'{{"seq":{seq}{"" if rest.startswith("}") else ","}{rest}'.encode()


class PositionSample(BaseModel):
    """One downsampled point of a robot's history."""

    unix_millis_time: int
    map: str
    x: float
    y: float
    yaw: float
    status: str | None
    battery: float | None


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    between: Period = Field(
        "-3600000", validate_default=True, description="The period; the last hour by default."
    )
    limit: Annotated[int, Field(ge=1, le=10 * MAX_LIMIT)] = Field(
        1000, description="Most samples, oldest first."
    )


@routes.get_query(
    "/robots/{fleet}/{robot}/history",
    query=HistoryQuery,
    response=list[PositionSample],
    errors=(404,),
)
async def get_robot_history(request: web.Request, query: HistoryQuery) -> web.Response:
    """A robot's position history in a period, oldest first.

    Samples are kept when the robot moved, turned or changed map or status,
    at most once a second by default (``history_position_*`` settings), for
    ``retention_positions_days``.
    """
    fleet, robot = request.match_info["fleet"], request.match_info["robot"]
    if not principal_of(request).can_robot(Permission.robot_read, fleet, robot):
        raise not_found(f"no robot {robot!r} in fleet {fleet!r}")
    return web.Response(
        body=orjson.dumps(await robot_history(fleet, robot, query)),
        content_type="application/json",
    )


async def robot_history(fleet: str, robot: str, query: HistoryQuery) -> list[dict[str, Any]]:
    """A robot's position samples in the query's period, oldest first (REST).

    The caller has checked that the user may read the robot.
    """
    start, end = query.between
    rows: list[dict[str, Any]] = (
        await db.RobotPositionSample.filter(
            fleet=fleet,
            robot=robot,
            unix_millis_time__gte=start,
            unix_millis_time__lte=end,
        )
        .order_by("unix_millis_time", "id")
        .limit(query.limit)
        .values(*SAMPLE_COLUMNS)
    )
    return rows


async def robot_histories(
    robots: Sequence[tuple[str, str]], query: HistoryQuery
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """:func:`robot_history` of many robots, by (fleet, robot), in one query (GraphQL's batches).

    Each robot's samples are numbered in the database (``ROW_NUMBER`` per robot)
    and cut at the limit there, so a robot with a long history costs its limit,
    not its whole period. Robots without samples are left out.
    """
    start, end = query.between
    conn = db.RobotPositionSample._meta.db
    table = Table(db.RobotPositionSample._meta.db_table)
    number = RowNumber().over(table.fleet, table.robot).orderby(table.unix_millis_time, table.id)
    numbered = (
        conn.query_class.from_(table)
        .select(table.fleet, table.robot, *(table.field(c) for c in SAMPLE_COLUMNS))
        .select(number.as_("n"))
        .where(Criterion.any([(table.fleet == f) & (table.robot == r) for f, r in robots]))
        .where((table.unix_millis_time >= start) & (table.unix_millis_time <= end))
    )
    kept = (
        conn.query_class.from_(numbered)
        .select(numbered.fleet, numbered.robot, *(numbered.field(c) for c in SAMPLE_COLUMNS))
        .where(numbered.n <= query.limit)
        .orderby(numbered.n)
    )
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in (await execute_pypika(kept, using_db=conn)).rows:
        robot = (row.pop("fleet"), row.pop("robot"))
        found.setdefault(robot, []).append(row)
    return found
