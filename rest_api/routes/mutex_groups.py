"""Releasing a mutex group a robot holds, with rmf-web's path (``/fleets/{name}/unlock_mutex_group``).

A command through the hub that a site publishes on RMF's
``mutex_group_manual_release``; the fleet state that follows shows the
group released. rmf-web's checks come first: the fleet and robot must have
reported (404) and the robot must hold the group (400).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from fleetcore.auth import Permission, Principal
from fleetcore.bus.base import Bus
from fleetcore.contract.commands import CommandKind
from fleetcore.contract.rooms import FLEET_STATE
from rest_api.access import commands, principal_of
from rest_api.command_access import authorize_command
from rest_api.keys import BUS_KEY
from rest_api.models import ErrorBody, NoContent
from rest_api.registry import ApiRoutes
from rest_api.responses import JSON, not_found
from rest_api.rooms import latest
from rest_api.routes.commands import RmfResponse, submit_shaped

routes = ApiRoutes("Fleets")


class UnlockMutexGroupQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    robot_name: Annotated[str, Field(min_length=1, max_length=256)] = Field(
        description="The robot holding the group."
    )
    mutex_group: Annotated[str, Field(min_length=1, max_length=256)] = Field(
        description="The group to release."
    )


@routes.route(
    "post",
    "/fleets/{name}/unlock_mutex_group",
    query=UnlockMutexGroupQuery,
    response=NoContent,
    errors=(202, 404),
    bodies={400: ErrorBody},
    access=commands(Permission.task_submit),
)
async def unlock_mutex_group(request: web.Request, *, query: UnlockMutexGroupQuery) -> web.Response:
    """Release a mutex group a robot holds (``task_submit`` on the robot); ``null`` once sent."""
    body = await unlock_command(
        request.app[BUS_KEY], principal_of(request), request.match_info["name"], query
    )

    def released(_: RmfResponse) -> tuple[Any, int]:
        return None, 200

    return await submit_shaped(request, CommandKind.UNLOCK_MUTEX_GROUP, body, released)


async def unlock_command(
    bus: Bus, principal: Principal, fleet: str, query: UnlockMutexGroupQuery
) -> dict[str, Any]:
    """The command body releasing ``query``'s group, once rmf-web's checks pass (REST's and
    GraphQL's one check): 404 for a robot its fleet does not report, 400 for a group it does
    not hold."""
    pub = await latest(bus, FLEET_STATE, name=fleet)
    robots = (orjson.loads(pub.data_json).get("robots") or {}) if pub is not None else {}
    if query.robot_name not in robots:
        raise not_found(f"Robot {query.robot_name} not found in fleet {fleet}")
    locked = (robots[query.robot_name].get("mutex_groups") or {}).get("locked") or []
    body = {"fleet": fleet, "robot": query.robot_name, "mutex_group": query.mutex_group}
    if query.mutex_group not in locked:
        detail = (
            f"Robot {query.robot_name} in fleet {fleet} does not have mutex group "
            f"{query.mutex_group} locked"
        )
        # Who may not see the robot learns nothing: the command's rule answers 404 first.
        await authorize_command(principal, CommandKind.UNLOCK_MUTEX_GROUP, body)
        raise web.HTTPBadRequest(text=orjson.dumps({"detail": detail}).decode(), content_type=JSON)
    return body
