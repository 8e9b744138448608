"""The Mutation root: REST's commands, through the one command path (``send_command``).

Each takes the REST body as ``input`` (validated by the same model), or the
path's and query's parameters as arguments (a robot's (de)commission and
controls, which also pass the REST route's access declaration and checks), and an
``idempotencyKey``: a retry with the key gets the first request's outcome
and the hub acts once; without one a key is made and returned in
``command``. The answer is REST's: RMF's response when it came in time,
else ``pending`` with the key to read or subscribe to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
import strawberry
from aiohttp import web
from pydantic import BaseModel
from strawberry.types import Info

from fleetcore.contract.commands import CommandKind, CommandStatus
from rest_api.access import AUDIT_DETAIL_BYTES, admit, record_audit
from rest_api.graphql.context import (
    GRAPHQL_PATH,
    STATUS_OF,
    Context,
    Refusal,
    refusal,
    validated,
)
from rest_api.graphql.types import JSON, AlertResponse, CommandResult
from rest_api.keys import BUS_KEY
from rest_api.models_commands import (
    CancelTaskRequest,
    DecommissionQuery,
    DispatchTaskRequest,
    DoorRequest,
    LiftRequest,
    RecommissionQuery,
    RobotTaskRequest,
    TaskInterruptionRequest,
    TaskKillRequest,
    TaskPhaseSkipRequest,
    TaskResumeRequest,
    TaskRewindRequest,
    UndoPhaseSkipRequest,
)
from rest_api.registry import ApiRoutes
from rest_api.routes import robot_controls, task_control
from rest_api.routes.alerts import record_response
from rest_api.routes.commands import checked_key, dump, reply_detail, send_command

T = TypeVar("T")


async def _audited(
    info: Info[Context, None], action: str, detail: dict[str, Any], run: Awaitable[T]
) -> T:
    """Run a mutation and write it to the audit log with REST's status for its outcome."""
    principal = info.context.user
    shown = {
        key: orjson.dumps(value).decode()[:AUDIT_DETAIL_BYTES] for key, value in detail.items()
    }
    try:
        result = await run
    except web.HTTPException as exc:
        await record_audit(principal, action, GRAPHQL_PATH, shown, exc.status)
        raise refusal(exc) from None
    except Refusal as exc:
        status = STATUS_OF.get(str((exc.extensions or {}).get("code")), 400)
        await record_audit(principal, action, GRAPHQL_PATH, shown, status)
        raise
    except Exception:
        await record_audit(principal, action, GRAPHQL_PATH, shown, 500)
        raise
    await record_audit(principal, action, GRAPHQL_PATH, shown, 200)
    return result


async def _command(
    info: Info[Context, None],
    kind: CommandKind,
    model: type[BaseModel],
    given: Any,
    key: str | None,
    extra: dict[str, Any] | None = None,
) -> CommandResult:
    detail = {"input": given, "idempotency_key": key, **(extra or {})}
    return await _audited(
        info, f"graphql_{kind.value}", detail, _send(info, kind, model, given, key, extra)
    )


async def _send(
    info: Info[Context, None],
    kind: CommandKind,
    model: type[BaseModel],
    given: Any,
    key: str | None,
    extra: dict[str, Any] | None,
) -> CommandResult:
    if not isinstance(given, dict):
        raise Refusal("BAD_USER_INPUT", "input: must be an object (REST's request body)")
    body = {**(extra or {}), **dump(validated(model, given))}
    return await _sent(info, kind, body, key)


async def _sent(
    info: Info[Context, None], kind: CommandKind, body: dict[str, Any], key: str | None
) -> CommandResult:
    checked = checked_key(key or "")
    reply = await send_command(info.context.app, info.context.user, kind, body, checked)
    if reply is None or reply.status in (CommandStatus.PENDING, CommandStatus.UNKNOWN):
        status = CommandStatus.PENDING if reply is None else reply.status
        detail = reply_detail(reply).get("detail")
        return CommandResult(command=checked, status=status.value, response=None, detail=detail)
    return CommandResult(
        command=checked, status=reply.status.value, response=reply.response, detail=None
    )


async def _as_rest(
    info: Info[Context, None],
    routes: ApiRoutes,
    handler: Callable[..., Any],
    kind: CommandKind,
    shown: dict[str, Any],
    body: Callable[[], Awaitable[dict[str, Any]]],
    key: str | None,
) -> CommandResult:
    """The command REST's ``handler`` sends, with its checks: the access it is declared with,
    then ``body`` (REST's own function, raising REST's 404 or 409); audited under its name."""
    operation, access = routes.access_of(handler)

    async def run() -> CommandResult:
        admit(access, info.context.user, operation)
        return await _sent(info, kind, await body(), key)

    detail = {**shown, "idempotency_key": key}
    return await _audited(info, f"graphql_{operation}", detail, run())


async def _commission(
    info: Info[Context, None],
    handler: Callable[..., Any],
    model: type[RecommissionQuery],
    fleet: str,
    query: dict[str, Any],
    key: str | None,
) -> CommandResult:
    async def body() -> dict[str, Any]:
        checked: RecommissionQuery = validated(model, query)
        bus = info.context.app[BUS_KEY]
        missing = await task_control.unknown_robot(bus, fleet, checked.robot_name)
        if missing is not None:
            raise Refusal("NOT_FOUND", missing)
        return task_control.commission_command(fleet, checked)

    kind = CommandKind.ROBOT_COMMISSION
    shown = {"fleet": fleet, **query}
    return await _as_rest(info, task_control.routes, handler, kind, shown, body, key)


def _robot_control(handler: Callable[..., Any], kind: CommandKind) -> Any:
    """The mutation of the VDA 5050 robot control REST's ``handler`` serves (``POST
    /fleets/{name}/robots/{robot}/...``), with its access and checks."""

    async def control(
        info: Info[Context, None], fleet: str, robot: str, idempotency_key: str | None = None
    ) -> CommandResult:
        async def body() -> dict[str, Any]:
            bus = info.context.app[BUS_KEY]
            return await robot_controls.control_command(bus, info.context.user, kind, fleet, robot)

        shown = {"fleet": fleet, "robot": robot}
        routes = robot_controls.routes
        return await _as_rest(info, routes, handler, kind, shown, body, idempotency_key)

    return strawberry.mutation(control)


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def dispatch_task(
        self, info: Info[Context, None], input: JSON, idempotency_key: str | None = None
    ) -> CommandResult:
        """``POST /tasks/dispatch_task``: RMF picks the fleet's robot."""
        return await _command(
            info, CommandKind.DISPATCH_TASK, DispatchTaskRequest, input, idempotency_key
        )

    @strawberry.mutation
    async def robot_task(
        self, info: Info[Context, None], input: JSON, idempotency_key: str | None = None
    ) -> CommandResult:
        """``POST /tasks/robot_task``: a task for one robot."""
        return await _command(
            info, CommandKind.ROBOT_TASK, RobotTaskRequest, input, idempotency_key
        )

    @strawberry.mutation
    async def cancel_task(
        self, info: Info[Context, None], input: JSON, idempotency_key: str | None = None
    ) -> CommandResult:
        """``POST /tasks/cancel_task``."""
        return await _command(
            info, CommandKind.CANCEL_TASK, CancelTaskRequest, input, idempotency_key
        )

    @strawberry.mutation
    async def kill_task(
        self, info: Info[Context, None], input: JSON, idempotency_key: str | None = None
    ) -> CommandResult:
        """``POST /tasks/kill_task``."""
        return await _command(info, CommandKind.KILL_TASK, TaskKillRequest, input, idempotency_key)

    @strawberry.mutation
    async def interrupt_task(
        self, info: Info[Context, None], input: JSON, idempotency_key: str | None = None
    ) -> CommandResult:
        """``POST /tasks/interrupt_task``."""
        kind = CommandKind.INTERRUPT_TASK
        return await _command(info, kind, TaskInterruptionRequest, input, idempotency_key)

    @strawberry.mutation
    async def resume_task(
        self, info: Info[Context, None], input: JSON, idempotency_key: str | None = None
    ) -> CommandResult:
        """``POST /tasks/resume_task``."""
        kind = CommandKind.RESUME_TASK
        return await _command(info, kind, TaskResumeRequest, input, idempotency_key)

    @strawberry.mutation
    async def rewind_task(
        self, info: Info[Context, None], input: JSON, idempotency_key: str | None = None
    ) -> CommandResult:
        """``POST /tasks/rewind_task``."""
        kind = CommandKind.REWIND_TASK
        return await _command(info, kind, TaskRewindRequest, input, idempotency_key)

    @strawberry.mutation
    async def skip_phase(
        self, info: Info[Context, None], input: JSON, idempotency_key: str | None = None
    ) -> CommandResult:
        """``POST /tasks/skip_phase``."""
        kind = CommandKind.SKIP_PHASE
        return await _command(info, kind, TaskPhaseSkipRequest, input, idempotency_key)

    @strawberry.mutation
    async def undo_skip_phase(
        self, info: Info[Context, None], input: JSON, idempotency_key: str | None = None
    ) -> CommandResult:
        """``POST /tasks/undo_skip_phase``."""
        kind = CommandKind.UNDO_SKIP_PHASE
        return await _command(info, kind, UndoPhaseSkipRequest, input, idempotency_key)

    @strawberry.mutation
    async def door_request(
        self,
        info: Info[Context, None],
        door_name: str,
        input: JSON,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """``POST /doors/{door_name}/request``."""
        return await _command(
            info,
            CommandKind.DOOR_REQUEST,
            DoorRequest,
            input,
            idempotency_key,
            {"door_name": door_name},
        )

    @strawberry.mutation
    async def lift_request(
        self,
        info: Info[Context, None],
        lift_name: str,
        input: JSON,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """``POST /lifts/{lift_name}/request``."""
        return await _command(
            info,
            CommandKind.LIFT_REQUEST,
            LiftRequest,
            input,
            idempotency_key,
            {"lift_name": lift_name},
        )

    @strawberry.mutation
    async def respond_to_alert(
        self, info: Info[Context, None], alert_id: str, response: str
    ) -> AlertResponse:
        """``POST /alerts/request/{id}/respond``: one response per alert, so the alert id is the key."""
        detail = {"alert_id": alert_id, "response": response}
        answer = await _audited(
            info,
            "graphql_respond_to_alert",
            detail,
            record_response(info.context.user, alert_id, response),
        )
        return AlertResponse(**answer.model_dump())

    @strawberry.mutation
    async def decommission_robot(
        self,
        info: Info[Context, None],
        fleet: str,
        robot_name: str,
        reassign_tasks: bool,
        allow_idle_behavior: bool,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """``POST /fleets/{name}/decommission`` (administrators): the robot gets no more tasks."""
        query = {
            "robot_name": robot_name,
            "reassign_tasks": reassign_tasks,
            "allow_idle_behavior": allow_idle_behavior,
        }
        handler = task_control.decommission_robot
        return await _commission(info, handler, DecommissionQuery, fleet, query, idempotency_key)

    @strawberry.mutation
    async def recommission_robot(
        self,
        info: Info[Context, None],
        fleet: str,
        robot_name: str,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """``POST /fleets/{name}/recommission`` (administrators): the robot takes tasks again."""
        query = {"robot_name": robot_name}
        handler = task_control.recommission_robot
        return await _commission(info, handler, RecommissionQuery, fleet, query, idempotency_key)

    pause_robot = _robot_control(robot_controls.pause_robot, CommandKind.ROBOT_PAUSE)
    resume_robot = _robot_control(robot_controls.resume_robot, CommandKind.ROBOT_RESUME)
    charge_robot = _robot_control(robot_controls.charge_robot, CommandKind.ROBOT_CHARGE)
    clear_robot_reservations = _robot_control(
        robot_controls.clear_robot_reservations, CommandKind.CLEAR_RESERVATIONS
    )
