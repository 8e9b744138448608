"""Steering what RMF already runs: interrupt, resume, rewind and skip tasks; discover; (de)commission.

rmf-web's paths, bodies and answers (always 200 with RMF's JSON, except
that a refused (de)commission is a 400 and an unknown fleet or robot a
404). Each goes through the hub exactly once, like a dispatch: see
:mod:`rest_api.routes.commands` for the idempotency key and the 202, and
:mod:`rest_api.command_access` for who may steer which task or robot.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from fleetcore.auth import Permission
from fleetcore.bus.base import Bus
from fleetcore.contract.commands import CommandKind
from fleetcore.contract.rooms import FLEET_STATE
from rest_api.access import ADMIN, commands
from rest_api.keys import BUS_KEY
from rest_api.models_commands import (
    DecommissionQuery,
    RecommissionQuery,
    TaskDiscoveryRequest,
    TaskInterruptionRequest,
    TaskPhaseSkipRequest,
    TaskResumeRequest,
    TaskRewindRequest,
    UndoPhaseSkipRequest,
)
from rest_api.registry import ApiRoutes
from rest_api.responses import json_body
from rest_api.rooms import latest
from rest_api.routes.commands import RmfResponse, dump, submit

STEER = commands(Permission.task_cancel)
"""Interrupting, resuming, rewinding and skipping are task_cancel's, as cancelling is."""
routes = ApiRoutes("Commands", access=STEER)


@routes.post(
    "/tasks/interrupt_task",
    body=TaskInterruptionRequest,
    response=RmfResponse,
    errors=(202, 404),
)
async def post_interrupt_task(request: web.Request, body: TaskInterruptionRequest) -> web.Response:
    """Pause a task; RMF answers the token that resumes it."""
    return await submit(request, CommandKind.INTERRUPT_TASK, dump(body))


@routes.post(
    "/tasks/resume_task",
    body=TaskResumeRequest,
    response=RmfResponse,
    errors=(202, 404),
)
async def post_resume_task(request: web.Request, body: TaskResumeRequest) -> web.Response:
    """Release a task's interruptions by their tokens; it goes on once none is left."""
    return await submit(request, CommandKind.RESUME_TASK, dump(body))


@routes.post(
    "/tasks/rewind_task",
    body=TaskRewindRequest,
    response=RmfResponse,
    errors=(202, 404),
)
async def post_rewind_task(request: web.Request, body: TaskRewindRequest) -> web.Response:
    """Run a task again from one of its earlier phases."""
    return await submit(request, CommandKind.REWIND_TASK, dump(body))


@routes.post(
    "/tasks/skip_phase",
    body=TaskPhaseSkipRequest,
    response=RmfResponse,
    errors=(202, 404),
)
async def post_skip_phase(request: web.Request, body: TaskPhaseSkipRequest) -> web.Response:
    """Skip a phase of a task (the running one at once); RMF answers a token to undo it."""
    return await submit(request, CommandKind.SKIP_PHASE, dump(body))


@routes.post(
    "/tasks/undo_skip_phase",
    body=UndoPhaseSkipRequest,
    response=RmfResponse,
    errors=(202, 404),
)
async def post_undo_skip_phase(request: web.Request, body: UndoPhaseSkipRequest) -> web.Response:
    """Take back skip requests by their tokens, for phases not yet skipped."""
    return await submit(request, CommandKind.UNDO_SKIP_PHASE, dump(body))


@routes.post(
    "/tasks/task_discovery",
    body=TaskDiscoveryRequest,
    response=RmfResponse,
    errors=(202,),
    access=commands(Permission.task_submit),
)
async def post_task_discovery(request: web.Request, body: TaskDiscoveryRequest) -> web.Response:
    """The task categories the fleets take, with their description schemas."""
    return await submit(request, CommandKind.TASK_DISCOVERY, dump(body))


@routes.route(
    "post",
    "/fleets/{name}/decommission",
    query=DecommissionQuery,
    response=RmfResponse,
    errors=(202, 400),
    bodies={404: RmfResponse},
    access=ADMIN,
)
async def decommission_robot(request: web.Request, *, query: DecommissionQuery) -> web.Response:
    """Stop giving a robot tasks; its queued tasks are reassigned or cancelled.

    RMF's robot_commission_response; 404 if the fleet or robot has not reported.
    """
    return await _commission(request, query)


@routes.route(
    "post",
    "/fleets/{name}/recommission",
    query=RecommissionQuery,
    response=RmfResponse,
    errors=(202, 400),
    bodies={404: RmfResponse},
    access=ADMIN,
)
async def recommission_robot(request: web.Request, *, query: RecommissionQuery) -> web.Response:
    """Give a decommissioned robot tasks again."""
    return await _commission(request, query)


async def _commission(request: web.Request, query: RecommissionQuery) -> web.Response:
    fleet = request.match_info["name"]
    missing = await unknown_robot(request.app[BUS_KEY], fleet, query.robot_name)
    if missing is not None:
        raise _not_found(missing)
    return await submit(
        request, CommandKind.ROBOT_COMMISSION, commission_command(fleet, query), refused=400
    )


def commission_command(fleet: str, query: RecommissionQuery) -> dict[str, Any]:
    """rmf_api_msgs ``robot_commission_request``, as rmf-web builds it: a decommission when
    ``query`` is a :class:`DecommissionQuery`, else a recommission."""
    if isinstance(query, DecommissionQuery):
        commission = {
            "dispatch_tasks": False,
            "direct_tasks": False,
            "idle_behavior": query.allow_idle_behavior,
        }
        dispatch_policy = "reassign" if query.reassign_tasks else "cancel"
        direct_policy = "cancel"
    else:
        commission = {"dispatch_tasks": True, "direct_tasks": True, "idle_behavior": True}
        dispatch_policy = direct_policy = "complete"
    return {
        "type": "robot_commission_request",
        "robot": query.robot_name,
        "fleet": fleet,
        "commission": commission,
        "pending_dispatch_tasks_policy": dispatch_policy,
        "pending_direct_tasks_policy": direct_policy,
    }


async def unknown_robot(bus: Bus, fleet: str, robot: str) -> str | None:
    """Why a (de)commission of ``fleet/robot`` is not found (never reported), or None."""
    pub = await latest(bus, FLEET_STATE, name=fleet)
    if pub is None:
        return f"Fleet {fleet} not found"
    if robot not in (orjson.loads(pub.data_json).get("robots") or {}):
        return f"Robot {robot} not found in fleet {fleet}"
    return None


def _not_found(detail: str) -> web.HTTPNotFound:
    """rmf-web's 404, in robot_commission_response's shape."""
    error = {"code": 404, "category": None, "detail": detail}
    answer = json_body(
        {
            "commission": {"success": False, "errors": [error]},
            "pending_direct_tasks_policy": None,
            "pending_dispatch_tasks_policy": None,
        },
        404,
    )
    return web.HTTPNotFound(text=answer.text, content_type="application/json")
