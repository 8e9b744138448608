"""Favorite tasks: a user's saved task forms, with rmf-web's paths (``/favorite_tasks``).

Operator data, not RMF's, so rest_api writes it directly. Each favorite
belongs to the user who saved it: others neither list, overwrite nor
delete it (another's id is 404, as if it did not exist).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from fleetcore.auth import Permission
from fleetcore.store import models as db
from rest_api.access import commands, principal_of, reads
from rest_api.models import NoContent
from rest_api.registry import ApiRoutes
from rest_api.responses import json_body, not_found

routes = ApiRoutes("Tasks")


class TaskFavorite(BaseModel):
    """rmf-web's TaskFavoritePydantic; an empty ``id`` saves a new favorite."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(max_length=256)
    name: str = Field(min_length=1, max_length=256)
    unix_millis_earliest_start_time: int = Field(ge=0, le=2**63 - 1)
    priority: dict[str, Any] | None = None
    category: str = Field(min_length=1, max_length=256)
    description: dict[str, Any] | None = None
    user: str = Field("", description="Ignored on save: a favorite is the saving user's.")
    task_definition_id: str = Field(
        "", max_length=256, description="The dashboard's task form this favorite fills in."
    )


@routes.route(
    "post",
    "/favorite_tasks",
    body=TaskFavorite,
    response=TaskFavorite,
    errors=(404,),
    access=commands(Permission.task_submit),
)
async def post_favorite_task(request: web.Request, *, body: TaskFavorite) -> web.Response:
    """Save a favorite (a new one when ``id`` is empty, else replace the user's own)."""
    username = principal_of(request).username
    favorite_id = body.id or str(uuid.uuid4())
    existing = await db.TaskFavorite.get_or_none(id=favorite_id)
    if existing is not None and existing.user != username:
        raise not_found(f"no favorite task {favorite_id!r}")
    values = {
        "name": body.name,
        "unix_millis_earliest_start_time": body.unix_millis_earliest_start_time,
        "priority": None if body.priority is None else orjson.dumps(body.priority).decode(),
        "category": body.category,
        "description": None
        if body.description is None
        else orjson.dumps(body.description).decode(),
        "user": username,
        "task_definition_id": body.task_definition_id,
    }
    await db.TaskFavorite.update_or_create(values, id=favorite_id)
    return json_body(_view(await db.TaskFavorite.get(id=favorite_id)))


@routes.route(
    "get", "/favorite_tasks", response=list[TaskFavorite], access=reads(Permission.task_read)
)
async def get_favorites_tasks(request: web.Request) -> web.Response:
    """The user's favorite tasks."""
    return json_body(await favorite_tasks(principal_of(request).username))


async def favorite_tasks(username: str) -> list[dict[str, Any]]:
    """``username``'s favorite tasks, by name: nobody else's, admins' included."""
    rows = await db.TaskFavorite.filter(user=username).order_by("name", "id")
    return [_view(row) for row in rows]


@routes.route(
    "delete",
    "/favorite_tasks/{favorite_task_id}",
    response=NoContent,
    errors=(404,),
    access=commands(Permission.task_submit),
)
async def delete_favorite_task(request: web.Request) -> web.Response:
    """Delete one of the user's favorite tasks."""
    favorite_id = request.match_info["favorite_task_id"]
    deleted = await db.TaskFavorite.filter(
        id=favorite_id, user=principal_of(request).username
    ).delete()
    if not deleted:
        raise not_found(f"Favorite task with id {favorite_id} does not exists")
    return json_body(None)


def _view(row: db.TaskFavorite) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "unix_millis_earliest_start_time": row.unix_millis_earliest_start_time,
        "priority": None if row.priority is None else orjson.loads(row.priority),
        "category": row.category,
        "description": None if row.description is None else orjson.loads(row.description),
        "user": row.user,
        "task_definition_id": row.task_definition_id,
    }
