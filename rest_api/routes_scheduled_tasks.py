"""Scheduled and recurring tasks with rmf-web's paths and bodies (``/scheduled_tasks``).

rest_api stores them (operator data, not RMF's); the leading hub fires them
(:mod:`hub.scheduler`), each occurrence once. Schedules are read as UTC
(:mod:`fleetcore.contract.schedules`). A user sees, edits and deletes the
scheduled tasks they created; an administrator all of them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from tortoise.transactions import in_transaction

from fleetcore.auth import Permission, Principal
from fleetcore.contract.commands import CommandKind
from fleetcore.contract.schedules import Schedule
from fleetcore.store import models as db
from rest_api.access import commands, principal_of, reads
from rest_api.command_access import authorize_command
from rest_api.models_commands import TaskRequest
from rest_api.registry import ApiRoutes
from rest_api.responses import json_body, not_found, unprocessable

routes = ApiRoutes("Tasks")

MAX_LIMIT = 1000
_SCHEDULES = TypeAdapter(list[Schedule])


class PostScheduledTaskRequest(BaseModel):
    """rmf-web's body: the task to dispatch and when (one or more schedules)."""

    model_config = ConfigDict(extra="forbid")

    task_request: TaskRequest
    schedules: list[Schedule] = Field(min_length=1, max_length=100)


class ScheduledTask(BaseModel):
    """rmf-web's ScheduledTask."""

    id: int
    task_request: TaskRequest
    created_by: str
    schedules: list[Schedule]
    last_ran: datetime | None
    except_dates: list[str]


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


SUBMIT = commands(Permission.task_submit)


@routes.route(
    "post",
    "/scheduled_tasks",
    body=PostScheduledTaskRequest,
    response=ScheduledTask,
    errors=(404,),
    access=SUBMIT,
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
    _require_future(body.schedules, now)
    row = await db.ScheduledTask.create(
        task_request=_encode_request(body.task_request),
        schedules=_SCHEDULES.dump_json(body.schedules).decode(),
        except_dates="[]",
        created_by=principal_of(request).username,
        created_ms=now,
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
    rows = _visible(principal_of(request), db.ScheduledTask.all().order_by("id"))
    kept = [row for row in await rows if _runs_in(row, query.start_before, query.until_after)]
    return json_body([_view(row) for row in kept[query.offset : query.offset + query.limit]])


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


@routes.route("delete", "/scheduled_tasks/{task_id}", response=None, errors=(404,), access=SUBMIT)
async def del_scheduled_task(request: web.Request) -> web.Response:
    """Delete a scheduled task; occurrences already dispatched stay."""
    row = await _owned(request)
    await row.delete()
    return json_body(None)


@routes.route(
    "put",
    "/scheduled_tasks/{task_id}/clear",
    query=EventDateQuery,
    response=None,
    errors=(404,),
    access=SUBMIT,
)
async def del_scheduled_tasks_event(request: web.Request, *, query: EventDateQuery) -> web.Response:
    """Skip one day of a scheduled task (its ``except_dates`` gains the event's date)."""
    row = await _owned(request)
    _add_except_date(row, query.event_date)
    await row.save(update_fields=["except_dates"])
    return json_body(None)


@routes.route(
    "post",
    "/scheduled_tasks/{task_id}/update",
    query=ExceptDateQuery,
    body=PostScheduledTaskRequest,
    response=ScheduledTask,
    errors=(404,),
    access=SUBMIT,
)
async def update_schedule_task(
    request: web.Request, *, query: ExceptDateQuery, body: PostScheduledTaskRequest
) -> web.Response:
    """Edit a scheduled task (201): the whole series, or one day's occurrence (``except_date``)."""
    row = await _owned(request)
    await _may_dispatch(request, body.task_request)
    now = _now_ms()
    _require_future(body.schedules, now)
    schedules = _SCHEDULES.dump_json(body.schedules).decode()
    async with in_transaction() as conn:
        if query.except_date is not None:
            _add_except_date(row, query.except_date)
            await row.save(update_fields=["except_dates"], using_db=conn)
            row = await db.ScheduledTask.create(
                task_request=_encode_request(body.task_request),
                schedules=schedules,
                except_dates="[]",
                created_by=row.created_by,
                created_ms=now,
                using_db=conn,
            )
        else:
            row.task_request = _encode_request(body.task_request)
            row.schedules = schedules
            row.except_dates = "[]"
            await row.save(
                update_fields=["task_request", "schedules", "except_dates"], using_db=conn
            )
    return json_body(_view(row), 201)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _may_dispatch(request: web.Request, task_request: TaskRequest) -> None:
    """The hub dispatches each occurrence later: check now that the user may dispatch it."""
    body = {"request": task_request.model_dump(mode="json", exclude_none=True)}
    await authorize_command(principal_of(request), CommandKind.DISPATCH_TASK, body)


def _encode_request(task_request: TaskRequest) -> str:
    return task_request.model_dump_json(exclude_none=True)


def _require_future(schedules: list[Schedule], now_ms: int) -> None:
    """rmf-web's 422 for a scheduled task that would never run."""
    if any(s.next_after(now_ms, now_ms) is not None for s in schedules):
        return
    raise unprocessable(
        [
            {
                "loc": ["body", "schedules"],
                "msg": "Task is never going to run: every schedule ends before its next occurrence",
                "type": "value_error",
                "input": orjson.loads(_SCHEDULES.dump_json(schedules)),
            }
        ]
    )


def _visible(principal: Principal, rows: Any) -> Any:
    return rows if principal.is_admin else rows.filter(created_by=principal.username)


async def _owned(request: web.Request) -> db.ScheduledTask:
    """The path's scheduled task if the user may see it; 404 otherwise (another's is not shown)."""
    raw = request.match_info["task_id"]
    row = None
    if raw.isdigit() and len(raw) < 10:
        row = await _visible(principal_of(request), db.ScheduledTask.filter(id=int(raw))).first()
    if row is None:
        raise not_found(f"no scheduled task {raw!r}")
    assert isinstance(row, db.ScheduledTask)
    return row


def _add_except_date(row: db.ScheduledTask, day: datetime) -> None:
    dates = orjson.loads(row.except_dates)
    date = day.date().isoformat()
    if date not in dates:
        row.except_dates = orjson.dumps([*dates, date]).decode()


def _runs_in(
    row: db.ScheduledTask, start_before: datetime | None, until_after: datetime | None
) -> bool:
    """rmf-web's filter: some schedule starts before ``start_before`` and runs until after ``until_after``."""
    for schedule in _SCHEDULES.validate_json(row.schedules):
        starts = schedule.start_from or datetime.fromtimestamp(row.created_ms / 1000, UTC)
        if start_before is not None and starts > _aware(start_before):
            continue
        if (
            until_after is not None
            and schedule.until is not None
            and schedule.until < _aware(until_after)
        ):
            continue
        return True
    return False


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _view(row: db.ScheduledTask) -> dict[str, Any]:
    last_ran = (
        None
        if row.last_ran_ms is None
        else datetime.fromtimestamp(row.last_ran_ms / 1000, UTC).isoformat()
    )
    return {
        "id": row.id,
        "task_request": orjson.loads(row.task_request),
        "created_by": row.created_by,
        "schedules": orjson.loads(row.schedules),
        "last_ran": last_ran,
        "except_dates": orjson.loads(row.except_dates),
    }
