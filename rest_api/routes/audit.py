"""``GET /audit``: who did what, when, and how it ended, for administrators.

The access middleware writes an entry for every change (commands, admin
changes, alert responses), refused ones included. Pages are keyed by id,
newest first: pass the last entry's id as ``before`` for the next page.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from fleetcore.store import models as db
from rest_api.access import ADMIN
from rest_api.query import MAX_LIMIT, CommaList, TimeRange
from rest_api.registry import ApiRoutes
from rest_api.responses import json_body

routes = ApiRoutes("Admin", access=ADMIN)


class AuditEntry(BaseModel):
    """One recorded change; ``status`` is the HTTP status it was answered with."""

    id: int
    unix_millis_time: int
    username: str
    action: str
    target: str
    status: int
    detail: dict[str, Any]
    """Method, query, the start of the body (passwords withheld), idempotency key."""


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    username: CommaList = Field(None, description="Comma separated usernames.")
    action: CommaList = Field(None, description="Comma separated operation ids.")
    between: TimeRange = Field(None, description="Range of the entry's time.")
    before: Annotated[int, Field(ge=0, lt=2**63)] | None = Field(
        None, description="Entries older than this id (the next page)."
    )
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = Field(100, description="Most entries.")


@routes.get_query("/audit", query=AuditQuery, response=list[AuditEntry])
async def get_audit(request: web.Request, query: AuditQuery) -> web.Response:
    """Audit log entries matching every filter, newest first, one page."""
    filters: dict[str, Any] = {}
    if query.username is not None:
        filters["username__in"] = query.username
    if query.action is not None:
        filters["action__in"] = query.action
    if query.between is not None:
        filters["unix_millis_time__gte"], filters["unix_millis_time__lte"] = query.between
    if query.before is not None:
        filters["id__lt"] = query.before
    rows = (
        await db.AuditEntry.filter(**filters)
        .order_by("-id")
        .limit(query.limit)
        .values("id", "unix_millis_time", "username", "action", "target", "status", "detail")
    )
    return json_body([{**row, "detail": orjson.loads(row["detail"])} for row in rows])
