"""rmf-web's RIOs: resources an integration keeps for the dashboard (``/rios``).

A RIO is an id, a type and any JSON data. Writing one is a command the hub
performs itself (no RMF involved): it stores the RIO and publishes it on the
``/rios`` room with a seq, as every room is published, so the REST read and
the room agree. Reading is for every authenticated user; writing for
administrators (rmf-web lets any user write).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from fleetcore.contract.commands import CommandKind
from fleetcore.store import models as db
from rest_api.access import ADMIN, AUTHENTICATED
from rest_api.keys import BUS_KEY
from rest_api.models import NoContent
from rest_api.query import CommaList
from rest_api.registry import ApiRoutes
from rest_api.responses import json_array, positioned
from rest_api.routes.commands import RmfResponse, submit_shaped

routes = ApiRoutes("RIOs")

MAX_IDS = 1000


class Rio(BaseModel):
    """rmf-web's Rio (other fields are ignored, as rmf-web does)."""

    id: Annotated[str, Field(min_length=1, max_length=256)]
    type: Annotated[str, Field(min_length=1, max_length=256)]
    data: dict[str, Any]


class RiosQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: CommaList = Field(None, description="Comma separated ids.")
    type: CommaList = Field(None, description="Comma separated types.")


@routes.get_query(
    "/rios", query=RiosQuery, response=list[Rio], positioned=True, access=AUTHENTICATED
)
async def query_rios(request: web.Request, query: RiosQuery) -> web.Response:
    """RIOs, by id, optionally only those of the given ids or types; updates on ``/rios``."""
    position = await request.app[BUS_KEY].position()
    rows = db.Rio.all().order_by("id")
    if query.id:
        rows = rows.filter(id__in=query.id[:MAX_IDS])
    if query.type:
        rows = rows.filter(type__in=query.type[:MAX_IDS])
    found: list[Any] = await rows.values_list("data", flat=True)
    return positioned(json_array(data.encode() for data in found), position)


@routes.route("put", "/rios", body=Rio, response=NoContent, errors=(201, 202), access=ADMIN)
async def put_rio(request: web.Request, *, body: Rio) -> web.Response:
    """Create (201) or replace (200) a RIO; ``null`` once the hub stored and published it."""

    def stored(outcome: RmfResponse) -> tuple[Any, int]:
        return None, 201 if outcome.get("created") else 200

    return await submit_shaped(request, CommandKind.PUT_RIO, rio_command(body), stored)


def rio_command(rio: Rio) -> dict[str, Any]:
    """The command body writing ``rio`` (REST's and GraphQL's): its JSON, extra fields dropped."""
    payload: dict[str, Any] = orjson.loads(rio.model_dump_json())
    return payload
