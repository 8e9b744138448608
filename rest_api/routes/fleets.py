"""Fleets: their latest states from the sticky store, their logs from the database."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from fleetcore.auth import Permission, Principal
from fleetcore.auth.visibility import reads_fleet
from fleetcore.bus.base import Bus
from fleetcore.contract.rmf import FleetLog, FleetState
from fleetcore.contract.rooms import FLEET_STATE
from fleetcore.store.models import FleetLogEntry
from rest_api.access import principal_of, reads
from rest_api.keys import BUS_KEY
from rest_api.logs import LOG_COLUMNS, log_entry
from rest_api.query import LogQuery
from rest_api.registry import ApiRoutes
from rest_api.responses import json_array, not_found, positioned
from rest_api.rooms import latest, reported, visible_state
from rest_api.visibility import fleet_state_view

routes = ApiRoutes("Fleets", access=reads(Permission.robot_read))


@routes.get("/fleets", response=list[FleetState], positioned=True)
async def get_fleets(request: web.Request) -> web.Response:
    """Every fleet's latest state, with all its robots (the user may read)."""
    principal = principal_of(request)
    bus = request.app[BUS_KEY]
    position = await bus.position()
    pubs = await reported(bus, FLEET_STATE)
    views = (fleet_state_view(principal, pub.data_json) for pub in pubs)
    return positioned(json_array(view for view in views if view is not None), position)


@routes.get(
    "/fleets/{name}/state",
    response=FleetState,
    errors=(404,),
    positioned=True,
)
async def get_fleet_state(request: web.Request) -> web.Response:
    """A fleet's latest state, with the robots the user may read. Available in socket.io."""
    return await visible_state(request, FLEET_STATE, "name", "fleet", fleet_state_view)


@routes.get_query(
    "/fleets/{name}/log",
    query=LogQuery,
    response=FleetLog,
    errors=(404,),
    positioned=True,
)
async def get_fleet_log(request: web.Request, query: LogQuery) -> web.Response:
    """A fleet's log entries in a period, fleet-level and per robot. Available in socket.io.

    Every robot that ever logged is listed, with an empty list when it logged
    nothing in the period, as in rmf-web; only robots the user may read, and
    the fleet-level log only with the whole fleet granted.
    """
    name = request.match_info["name"]
    bus = request.app[BUS_KEY]
    position = await bus.position()
    log = await fleet_log(bus, principal_of(request), name, query.between)
    if log is None:
        raise not_found(f"no fleet named {name!r} has reported a state or a log")
    return positioned(orjson.dumps(log), position)


async def fleet_log(
    bus: Bus, principal: Principal, name: str, between: tuple[int, int]
) -> dict[str, Any] | None:
    """A fleet's log in rmf-web's FleetLog shape as ``principal`` sees it; None: no such fleet.

    Another group's fleet is None, as one nobody reported.
    """
    if not reads_fleet(principal, name):
        return None
    start, end = between
    rows: list[dict[str, Any]] = (
        await FleetLogEntry.filter(
            fleet=name, unix_millis_time__gte=start, unix_millis_time__lte=end
        )
        .order_by("id")
        .values("robot", *LOG_COLUMNS)
    )
    robot_names = [
        str(robot)
        for robot in await FleetLogEntry.filter(fleet=name, robot__isnull=False)
        .distinct()
        .values_list("robot", flat=True)
        if principal.can_robot(Permission.robot_read, name, str(robot))
    ]
    whole_fleet = principal.can_fleet(Permission.robot_read, name)
    rows = [
        row
        for row in rows
        if (whole_fleet if row["robot"] is None else row["robot"] in robot_names)
    ]
    if not robot_names and not rows and not await _fleet_known(bus, name):
        return None
    log: list[dict[str, Any]] = []
    robots: dict[str, list[dict[str, Any]]] = {robot: [] for robot in sorted(robot_names)}
    for row in rows:
        robot = row["robot"]
        (log if robot is None else robots.setdefault(robot, [])).append(log_entry(row))
    return {"name": name, "log": log, "robots": robots}


async def _fleet_known(bus: Bus, name: str) -> bool:
    if await latest(bus, FLEET_STATE, name=name) is not None:
        return True
    return await FleetLogEntry.filter(fleet=name).exists()
