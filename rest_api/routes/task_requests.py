"""What tasks were booked with: their requests (``GET /tasks/{id}/request``) and booking labels.

The hub stores a task's request when RMF accepts a dispatch or robot task
(in the transaction that completes the command), so what a client asked
for stays readable next to the task's state; and each booking label of a
task state it writes, split at ``=`` as rmf-web does.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from fleetcore.auth import Permission
from fleetcore.store import models as db
from rest_api.access import principal_of, reads
from rest_api.models_commands import TaskRequest
from rest_api.query import CommaList
from rest_api.registry import ApiRoutes
from rest_api.responses import json_body, not_found
from rest_api.visibility import task_row_visible

routes = ApiRoutes("Tasks", access=reads(Permission.task_read))

MAX_TASK_IDS = 1000


class TaskRequestsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    task_ids: CommaList = Field(None, description="Comma separated task ids.")


@routes.get(
    "/tasks/{task_id}/request",
    response=TaskRequest,
    errors=(404,),
)
async def get_task_request(request: web.Request) -> web.Response:
    """The request a task was dispatched with."""
    task_id = request.match_info["task_id"]
    row = await db.TaskRequest.get_or_none(task_id=task_id)
    if row is None or not await task_row_visible(principal_of(request), task_id):
        raise not_found(f"no request is known for task {task_id!r}")
    return web.Response(body=row.request.encode(), content_type="application/json")


@routes.get(
    "/tasks/{task_id}/booking_label",
    response=dict[str, str],
    errors=(404,),
)
async def get_task_booking_label(request: web.Request) -> web.Response:
    """The task's booking labels as one object (``key=value`` → ``{key: value}``, ``key`` → ``""``).

    rmf-web parses only the first label, character by character (a bug); this
    gives all of them. 404 for a task nobody reported (or the user may not see).
    """
    task_id = request.match_info["task_id"]
    principal = principal_of(request)
    if not await db.TaskState.exists(id=task_id) or not await task_row_visible(principal, task_id):
        raise not_found(f"no task {task_id!r}")
    labels = await db.TaskLabel.filter(task_id=task_id).order_by("id")
    return json_body({label.label_name: label.label_value for label in labels})


@routes.get_query(
    "/tasks/requests",
    query=TaskRequestsQuery,
    response=list[TaskRequest],
)
async def query_task_requests(request: web.Request, query: TaskRequestsQuery) -> web.Response:
    """The requests of the given tasks, in the order asked; unknown or invisible ones are left out.

    As rmf-web: a client matches them to its tasks by the requests' content, not by position.
    """
    task_ids = (query.task_ids or [])[:MAX_TASK_IDS]
    rows = await db.TaskRequest.filter(task_id__in=task_ids) if task_ids else []
    principal = principal_of(request)
    found: dict[str, Any] = {
        row.task_id: orjson.loads(row.request)
        for row in rows
        if await task_row_visible(principal, row.task_id)
    }
    return json_body([found[task_id] for task_id in dict.fromkeys(task_ids) if task_id in found])
