"""Scheduled and recurring tasks with rmf-web's paths and bodies (``/scheduled_tasks``).

rest_api stores them (operator data, not RMF's); the leading hub fires them
(:mod:`hub.scheduler`), each occurrence once. Schedules are read as UTC
(:mod:`fleetcore.contract.schedules`). A user sees, edits and deletes the
scheduled tasks they created; an administrator all of them.

The shape is rmf-web's current one (since mid-2024): ``start_from``,
``until`` and ``except_dates`` belong to the scheduled task, ``POST
/{id}/except_date`` skips a day and ``POST /{id}/update`` replaces the
whole series. The earlier shape is still taken: ``start_from``/``until``
inside a schedule (each schedule then has its own window, echoed back in
it), ``PUT /{id}/clear?event_date=`` and ``POST /{id}/update?except_date=``
(split one day off into a new scheduled task).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from tortoise.transactions import in_transaction

from fleetcore.auth import Permission, Principal
from fleetcore.contract.commands import CommandKind
from fleetcore.contract.schedules import Schedule
from fleetcore.store import models as db
from rest_api.access import commands, principal_of, reads
from rest_api.command_access import authorize_command
from rest_api.models import NoContent
from rest_api.models_commands import TaskRequest
from rest_api.registry import ApiRoutes
from rest_api.responses import json_body, not_found, unprocessable

routes = ApiRoutes("Tasks", access=commands(Permission.task_submit))

MAX_LIMIT = 1000
_SCHEDULES = TypeAdapter(list[Schedule])


class PostScheduledTaskRequest(BaseModel):
    """rmf-web's body: the task to dispatch and when (one or more schedules, within a window)."""

    model_config = ConfigDict(extra="forbid")

    task_request: TaskRequest
    schedules: list[Schedule] = Field(min_length=1, max_length=100)
    start_from: datetime | None = Field(None, description="No occurrence before this time.")
    until: datetime | None = Field(None, description="No occurrence after this time.")
    except_dates: list[datetime] = Field(
        default_factory=list,
        max_length=10_000,
        description="Days (UTC dates; the time is ignored) on which the schedules do not run.",
    )

    @field_validator("start_from", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)


class ScheduledTaskSchedule(BaseModel):
    """A schedule as rmf-web shows it (``at`` is ``""`` when it has none); a window given
    inside the schedule (the earlier shape) is shown there too."""

    every: int | None
    period: str
    at: str
    start_from: datetime | None = None
    until: datetime | None = None


class ScheduledTask(BaseModel):
    """rmf-web's ScheduledTask."""

    id: int
    task_request: TaskRequest
    created_by: str
    schedules: list[ScheduledTaskSchedule]
    last_ran: datetime | None
    start_from: datetime | None
    until: datetime | None
    except_dates: list[str]


class AddExceptDateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    except_date: datetime = Field(description="A day not to run on (its UTC date).")


class ScheduledTasksQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    start_before: datetime | None = Field(
        None, description="Only scheduled tasks with a schedule starting before this time."
    )
    until_after: datetime | None = Field(
        None, description="Only scheduled tasks with a schedule running until after this time."
    )
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=2**31 - 1)


class EventDateQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_date: datetime = Field(description="A day of the schedule not to run on (its date).")


class ExceptDateQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    except_date: datetime | None = Field(
        None,
        description="Edit only this day's occurrence: the series skips it and a new scheduled"
        " task is made from the body. Without it the whole series is replaced.",
    )


@routes.route(
    "post",
    "/scheduled_tasks",
    body=PostScheduledTaskRequest,
    response=ScheduledTask,
    errors=(201, 404),
)
async def post_scheduled_task(
    request: web.Request, *, body: PostScheduledTaskRequest
) -> web.Response:
    """Create a scheduled task (201); 422 if its schedules never run from now on.

    | every | period | at | runs |
    | - | - | - | - |
    | 10 | minute | - | every 10 minutes |
    | - | hour | :30 | every hour at minute 30 |
    | - | day | 10:30 | every day at 10:30 UTC |
    | - | wednesday | 13:15 | every Wednesday at 13:15 UTC |
    """
    await _may_dispatch(request, body.task_request)
    now = _now_ms()
    _require_future(body, now)
    row = await db.ScheduledTask.create(
        **_columns(body), created_by=principal_of(request).username, created_ms=now
    )
    return json_body(_view(row), 201)


@routes.route(
    "get",
    "/scheduled_tasks",
    query=ScheduledTasksQuery,
    response=list[ScheduledTask],
    access=reads(Permission.task_read),
)
async def get_scheduled_tasks(request: web.Request, *, query: ScheduledTasksQuery) -> web.Response:
    """Scheduled tasks, oldest first, optionally only those running in a period."""
    return json_body(await scheduled_tasks(principal_of(request), query))


async def scheduled_tasks(principal: Principal, query: ScheduledTasksQuery) -> list[dict[str, Any]]:
    """The scheduled tasks ``principal`` may see (their own; an admin's: all) matching ``query``."""
    rows = _visible(principal, db.ScheduledTask.all().order_by("id"))
    kept = [row for row in await rows if _runs_in(row, query.start_before, query.until_after)]
    return [_view(row) for row in kept[query.offset : query.offset + query.limit]]


async def scheduled_task(principal: Principal, raw_id: str) -> dict[str, Any] | None:
    """One scheduled task by its id as given, if ``principal`` may see it; else None."""
    row = await _visible_row(principal, raw_id)
    return None if row is None else _view(row)


@routes.route(
    "get",
    "/scheduled_tasks/{task_id}",
    response=ScheduledTask,
    errors=(404,),
    access=reads(Permission.task_read),
)
async def get_scheduled_task(request: web.Request) -> web.Response:
    """One scheduled task."""
    return json_body(_view(await _owned(request)))


@routes.route("delete", "/scheduled_tasks/{task_id}", response=NoContent, errors=(404,))
async def del_scheduled_task(request: web.Request) -> web.Response:
    """Delete a scheduled task; occurrences already dispatched stay."""
    row = await _owned(request)
    await row.delete()
    return json_body(None)


@routes.route(
    "put",
    "/scheduled_tasks/{task_id}/clear",
    query=EventDateQuery,
    response=NoContent,
    errors=(404,),
)
async def del_scheduled_tasks_event(request: web.Request, *, query: EventDateQuery) -> web.Response:
    """Skip one day of a scheduled task (its ``except_dates`` gains the event's date)."""
    row = await _owned(request)
    _add_except_date(row, query.event_date)
    await row.save(update_fields=["except_dates"])
    return json_body(None)


@routes.route(
    "post",
    "/scheduled_tasks/{task_id}/except_date",
    body=AddExceptDateRequest,
    response=NoContent,
    errors=(201, 404),
)
async def add_except_date(request: web.Request, *, body: AddExceptDateRequest) -> web.Response:
    """Skip one day of a scheduled task (201): its ``except_dates`` gains the date."""
    row = await _owned(request)
    _add_except_date(row, body.except_date)
    await row.save(update_fields=["except_dates"])
    return json_body(None, 201)


@routes.route(
    "post",
    "/scheduled_tasks/{task_id}/update",
    query=ExceptDateQuery,
    body=PostScheduledTaskRequest,
    response=ScheduledTask,
    errors=(201, 404),
)
async def update_schedule_task(
    request: web.Request, *, query: ExceptDateQuery, body: PostScheduledTaskRequest
) -> web.Response:
    """Replace a scheduled task's request, schedules, window and except dates (200).

    With ``except_date`` (the earlier shape) only that day is changed: the
    series skips it and a new scheduled task is made from the body (201).
    """
    row = await _owned(request)
    await _may_dispatch(request, body.task_request)
    now = _now_ms()
    _require_future(body, now)
    columns = _columns(body)
    async with in_transaction() as conn:
        if query.except_date is not None:
            _add_except_date(row, query.except_date)
            await row.save(update_fields=["except_dates"], using_db=conn)
            row = await db.ScheduledTask.create(
                **columns, created_by=row.created_by, created_ms=now, using_db=conn
            )
            return json_body(_view(row), 201)
        for name, value in columns.items():
            setattr(row, name, value)
        await row.save(update_fields=list(columns), using_db=conn)
    return json_body(_view(row))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _may_dispatch(request: web.Request, task_request: TaskRequest) -> None:
    """The hub dispatches each occurrence later: check now that the user may dispatch it."""
    body = {"request": task_request.model_dump(mode="json", exclude_none=True)}
    await authorize_command(principal_of(request), CommandKind.DISPATCH_TASK, body)


def _columns(body: PostScheduledTaskRequest) -> dict[str, Any]:
    """The stored columns of a scheduled task's definition."""
    return {
        "task_request": body.task_request.model_dump_json(exclude_none=True),
        "schedules": _SCHEDULES.dump_json(body.schedules, exclude_none=True).decode(),
        "start_from_ms": None if body.start_from is None else _ms(body.start_from),
        "until_ms": None if body.until is None else _ms(body.until),
        "except_dates": orjson.dumps(
            sorted({_except_day(day) for day in body.except_dates})
        ).decode(),
    }


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _require_future(body: PostScheduledTaskRequest, now_ms: int) -> None:
    """rmf-web's 422 for a scheduled task that would never run."""
    after = now_ms if body.start_from is None else max(now_ms, _ms(body.start_from) - 1)
    until = None if body.until is None else _ms(body.until)
    for schedule in body.schedules:
        at = schedule.next_after(now_ms, after)
        if at is not None and (until is None or at <= until):
            return
    raise unprocessable(
        [
            {
                "loc": ["body", "schedules"],
                "msg": "Task is never going to run: every schedule ends before its next occurrence",
                "type": "value_error",
                "input": orjson.loads(_SCHEDULES.dump_json(body.schedules)),
            }
        ]
    )


def _visible(principal: Principal, rows: Any) -> Any:
    return rows if principal.is_admin else rows.filter(created_by=principal.username)


async def _owned(request: web.Request) -> db.ScheduledTask:
    """The path's scheduled task if the user may see it; 404 otherwise (another's is not shown)."""
    raw = request.match_info["task_id"]
    row = await _visible_row(principal_of(request), raw)
    if row is None:
        raise not_found(f"no scheduled task {raw!r}")
    return row


async def _visible_row(principal: Principal, raw_id: str) -> db.ScheduledTask | None:
    if not (raw_id.isdigit() and len(raw_id) < 10):
        return None
    row = await _visible(principal, db.ScheduledTask.filter(id=int(raw_id))).first()
    assert row is None or isinstance(row, db.ScheduledTask)
    return row


def _add_except_date(row: db.ScheduledTask, day: datetime) -> None:
    dates = orjson.loads(row.except_dates)
    date = _except_day(day)
    if date not in dates:
        row.except_dates = orjson.dumps([*dates, date]).decode()


def _runs_in(
    row: db.ScheduledTask, start_before: datetime | None, until_after: datetime | None
) -> bool:
    """rmf-web's filter: the task (or, in the earlier shape, some schedule) starts before
    ``start_before`` and runs until after ``until_after``."""
    for schedule in _SCHEDULES.validate_json(row.schedules):
        starts_ms = row.start_from_ms or (
            _ms(schedule.start_from) if schedule.start_from else row.created_ms
        )
        ends_ms = row.until_ms or (_ms(schedule.until) if schedule.until else None)
        if start_before is not None and starts_ms > _ms(_aware(start_before)):
            continue
        if until_after is not None and ends_ms is not None and ends_ms < _ms(_aware(until_after)):
            continue
        return True
    return False


def _except_day(day: datetime) -> str:
    """The UTC date of ``day``, as rmf-web stores an except date (in its server's timezone, UTC
    by default); a time without a zone is UTC."""
    return _aware(day).astimezone(UTC).date().isoformat()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _view(row: db.ScheduledTask) -> dict[str, Any]:
    last_ran = _iso(row.last_ran_ms)
    schedules = [
        {"every": None, **schedule, "at": schedule.get("at") or ""}
        for schedule in orjson.loads(row.schedules)
    ]
    return {
        "id": row.id,
        "task_request": orjson.loads(row.task_request),
        "created_by": row.created_by,
        "schedules": schedules,
        "last_ran": last_ran,
        "start_from": _iso(row.start_from_ms),
        "until": _iso(row.until_ms),
        "except_dates": orjson.loads(row.except_dates),
    }


def _iso(unix_ms: int | None) -> str | None:
    return None if unix_ms is None else datetime.fromtimestamp(unix_ms / 1000, UTC).isoformat()
