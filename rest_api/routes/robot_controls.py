"""Operators' controls of a VDA 5050 robot: pause, resume, send to charge, clear its reservations.

fleethub's own (rmf-web has none): RMF's fleet adapters take no such
request, so they are for the fleets fleethub's VDA 5050 master control
serves (its fleet states say so, :mod:`fleetcore.contract.vda5050.marks`);
another fleet's robot is a 409. Taking a robot out of service is rmf-web's
``/fleets/{name}/decommission``, which the master control performs too.

Each is a command through the hub, exactly once per idempotency key (see
:mod:`rest_api.routes.commands`), to the master control serving the fleet.
Who may: :mod:`rest_api.command_access` (``task_submit`` on the robot, as
for giving it a task; clearing reservations, which overrides traffic
control, administrators only). The access middleware audits each call.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from fleetcore.auth import Permission, Principal
from fleetcore.bus.base import Bus
from fleetcore.contract.commands import CommandKind
from fleetcore.contract.rooms import FLEET_STATE
from fleetcore.contract.vda5050.marks import is_vda_fleet
from fleetcore.store.models import FleetLogEntry
from rest_api.access import ADMIN, commands, principal_of
from rest_api.command_access import authorize_command
from rest_api.keys import BUS_KEY
from rest_api.registry import ApiRoutes
from rest_api.responses import JSON, not_found
from rest_api.rooms import latest
from rest_api.routes.commands import RmfResponse, submit

routes = ApiRoutes("Fleets", access=commands(Permission.task_submit))

ROBOT = "/fleets/{name}/robots/{robot}"


@routes.route("post", f"{ROBOT}/pause", response=RmfResponse, errors=(202, 400, 404, 409))
async def pause_robot(request: web.Request) -> web.Response:
    """Pause the vehicle where it is (instant action ``startPause``).

    Its task waits and its reservations stay; its state shows ``paused``.
    RMF-style answer: ``success`` and the instant action's id, or ``errors``.
    """
    return await _control(request, CommandKind.ROBOT_PAUSE)


@routes.route("post", f"{ROBOT}/resume", response=RmfResponse, errors=(202, 400, 404, 409))
async def resume_robot(request: web.Request) -> web.Response:
    """Let a paused vehicle go on (instant action ``stopPause``)."""
    return await _control(request, CommandKind.ROBOT_RESUME)


@routes.route("post", f"{ROBOT}/charge", response=RmfResponse, errors=(202, 400, 404, 409))
async def charge_robot(request: web.Request) -> web.Response:
    """Send an idle vehicle to the nearest free charger it can reach, as a ``charge`` task.

    Answers the task's id and the charger; 400 with the reason when the
    vehicle is busy, not ready, or no free charger is reachable.
    """
    return await _control(request, CommandKind.ROBOT_CHARGE)


@routes.route(
    "post",
    f"{ROBOT}/clear_reservations",
    response=RmfResponse,
    errors=(202, 400, 404, 409),
    access=ADMIN,
)
async def clear_robot_reservations(request: web.Request) -> web.Response:
    """Free the nodes and lanes a vanished vehicle holds; its running task is cancelled.

    Refused (400) while the vehicle still reports. Answers what was freed (``cleared``).
    """
    return await _control(request, CommandKind.CLEAR_RESERVATIONS)


async def _control(request: web.Request, kind: CommandKind) -> web.Response:
    fleet, robot = request.match_info["name"], request.match_info["robot"]
    body = await control_command(request.app[BUS_KEY], principal_of(request), kind, fleet, robot)
    return await submit(request, kind, body, refused=400)


async def control_command(
    bus: Bus, principal: Principal, kind: CommandKind, fleet: str, robot: str
) -> dict[str, Any]:
    """The command body of a control of ``fleet/robot``, once it may go to the hub.

    REST's and GraphQL's one check: 404 for a robot the user may not see or that
    never reported, 409 (with the reason) for a fleet the master control does not run.
    """
    body = {"fleet": fleet, "robot": robot}
    # Who may not see the robot learns nothing: its rule answers 404 before any lookup.
    await authorize_command(principal, kind, body)
    pub = await latest(bus, FLEET_STATE, name=fleet)
    if pub is None:
        raise not_found(f"Fleet {fleet} not found")
    state = orjson.loads(pub.data_json)
    # A vanished robot has left its fleet's state, not its log.
    known = robot in (state.get("robots") or {}) or (
        await FleetLogEntry.filter(fleet=fleet, robot=robot).exists()
    )
    if not known:
        raise not_found(f"Robot {robot} not found in fleet {fleet}")
    if not is_vda_fleet(state):
        detail = (
            f"fleet {fleet} is not run by fleethub's VDA 5050 master control: RMF has no {kind}"
        )
        raise web.HTTPConflict(text=orjson.dumps({"detail": detail}).decode(), content_type=JSON)
    return body
