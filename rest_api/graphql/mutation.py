"""The Mutation root: REST's commands, through the one command path (``send_command``).

Each takes the REST body as ``input`` (validated by the same model), or the
path's and query's parameters as arguments (validated by REST's query model
and checked by REST's own function), and an ``idempotencyKey``: a retry with
the key gets the first request's outcome and the hub acts once; without one
a key is made and returned in ``command``. Each is admitted by the access its
REST route is declared with (``ApiRoutes.access_of``: FORBIDDEN for a user
without the route's permission anywhere, as REST's 403) and audited under the
route's operation. The answer is REST's: RMF's (or the hub's) response when it
came in time, else ``pending`` with the key to read or subscribe to.
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
    TaskDiscoveryRequest,
    TaskInterruptionRequest,
    TaskKillRequest,
    TaskPhaseSkipRequest,
    TaskResumeRequest,
    TaskRewindRequest,
    UndoPhaseSkipRequest,
)
from rest_api.registry import ApiRoutes
from rest_api.routes import (
    alerts,
    beacons,
    commands,
    delivery_alerts,
    fire_alarm,
    mutex_groups,
    rios,
    robot_controls,
    task_control,
)
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
    routes: ApiRoutes,
    handler: Callable[..., Any],
    kind: CommandKind,
    model: type[BaseModel],
    given: Any,
    key: str | None,
    extra: dict[str, Any] | None = None,
) -> CommandResult:
    """The command REST's ``handler`` sends with ``given`` as its JSON body (``extra``: its
    path's parameters), validated by the same model."""

    async def body() -> dict[str, Any]:
        return {**(extra or {}), **dump(_input(model, given))}

    shown = {"input": given, **(extra or {})}
    return await _as_rest(info, routes, handler, kind, shown, body, key)


def _input(model: type[BaseModel], given: Any) -> Any:
    if not isinstance(given, dict):
        raise Refusal("BAD_USER_INPUT", "input: must be an object (REST's request body)")
    return validated(model, given)


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


async def _as_rest_operation(
    info: Info[Context, None],
    routes: ApiRoutes,
    handler: Callable[..., Any],
    shown: dict[str, Any],
    run: Callable[[], Awaitable[T]],
) -> T:
    """``run``, once the access REST's ``handler`` is declared with admits the user (REST's 403
    for one without the route's permission anywhere); audited under the operation's name."""
    operation, access = routes.access_of(handler)

    async def admitted() -> T:
        admit(access, info.context.user, operation)
        return await run()

    return await _audited(info, f"graphql_{operation}", shown, admitted())


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
    then ``body`` (REST's own function, raising REST's 404, 400 or 409)."""

    async def run() -> CommandResult:
        return await _sent(info, kind, await body(), key)

    detail = {**shown, "idempotency_key": key}
    return await _as_rest_operation(info, routes, handler, detail, run)


async def _checked(
    info: Info[Context, None],
    routes: ApiRoutes,
    handler: Callable[..., Any],
    kind: CommandKind,
    model: type[BaseModel],
    arguments: dict[str, Any],
    key: str | None,
    build: Callable[[Any], dict[str, Any]],
) -> CommandResult:
    """The command REST's ``handler`` sends from its query parameters (``arguments``, validated
    by its query ``model``), its body made by REST's own ``build``."""

    async def body() -> dict[str, Any]:
        return build(validated(model, arguments))

    return await _as_rest(info, routes, handler, kind, arguments, body, key)


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


def _body_command(
    routes: ApiRoutes, handler: Callable[..., Any], kind: CommandKind, model: type[BaseModel]
) -> Any:
    """The mutation of the command REST's ``handler`` sends with its JSON body (``POST
    /tasks/...``), taken as ``input`` and validated by the same ``model``."""

    async def command(
        info: Info[Context, None], input: JSON, idempotency_key: str | None = None
    ) -> CommandResult:
        return await _command(info, routes, handler, kind, model, input, idempotency_key)

    return strawberry.mutation(command)


def _task_command(handler: Callable[..., Any], kind: CommandKind, model: type[BaseModel]) -> Any:
    """:func:`_body_command` of a route steering a running task (``task_control``)."""
    return _body_command(task_control.routes, handler, kind, model)


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
    dispatch_task = _body_command(
        commands.routes, commands.post_dispatch_task, CommandKind.DISPATCH_TASK, DispatchTaskRequest
    )
    robot_task = _body_command(
        commands.routes, commands.post_robot_task, CommandKind.ROBOT_TASK, RobotTaskRequest
    )
    cancel_task = _body_command(
        commands.routes, commands.post_cancel_task, CommandKind.CANCEL_TASK, CancelTaskRequest
    )
    kill_task = _body_command(
        commands.routes, commands.post_kill_task, CommandKind.KILL_TASK, TaskKillRequest
    )
    interrupt_task = _task_command(
        task_control.post_interrupt_task, CommandKind.INTERRUPT_TASK, TaskInterruptionRequest
    )
    resume_task = _task_command(
        task_control.post_resume_task, CommandKind.RESUME_TASK, TaskResumeRequest
    )
    rewind_task = _task_command(
        task_control.post_rewind_task, CommandKind.REWIND_TASK, TaskRewindRequest
    )
    skip_phase = _task_command(
        task_control.post_skip_phase, CommandKind.SKIP_PHASE, TaskPhaseSkipRequest
    )
    undo_skip_phase = _task_command(
        task_control.post_undo_skip_phase, CommandKind.UNDO_SKIP_PHASE, UndoPhaseSkipRequest
    )
    task_discovery = _task_command(
        task_control.post_task_discovery, CommandKind.TASK_DISCOVERY, TaskDiscoveryRequest
    )

    @strawberry.mutation
    async def door_request(
        self,
        info: Info[Context, None],
        door_name: str,
        input: JSON,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """``POST /doors/{door_name}/request``."""
        handler, kind = commands.post_door_request, CommandKind.DOOR_REQUEST
        door = {"door_name": door_name}
        return await _command(
            info, commands.routes, handler, kind, DoorRequest, input, idempotency_key, door
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
        handler, kind = commands.post_lift_request, CommandKind.LIFT_REQUEST
        lift = {"lift_name": lift_name}
        return await _command(
            info, commands.routes, handler, kind, LiftRequest, input, idempotency_key, lift
        )

    @strawberry.mutation
    async def respond_to_alert(
        self, info: Info[Context, None], alert_id: str, response: str
    ) -> AlertResponse:
        """``POST /alerts/request/{id}/respond``: one response per alert, so the alert id is the key."""

        async def run() -> AlertResponse:
            answer = await record_response(info.context.user, alert_id, response)
            return AlertResponse(**answer.model_dump())

        shown = {"alert_id": alert_id, "response": response}
        return await _as_rest_operation(info, alerts.routes, alerts.respond_to_alert, shown, run)

    @strawberry.mutation
    async def respond_to_delivery_alert(
        self,
        info: Info[Context, None],
        delivery_alert_id: str,
        category: str,
        tier: str,
        task_id: str,
        action: str,
        message: str,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """``POST /delivery_alerts/{id}/response`` (deprecated in rmf-web, as REST's)."""
        arguments = {
            "category": category,
            "tier": tier,
            "task_id": task_id,
            "action": action,
            "message": message,
        }

        def build(query: delivery_alerts.DeliveryAlertResponseQuery) -> dict[str, Any]:
            return delivery_alerts.delivery_alert_response(delivery_alert_id, query)

        return await _checked(
            info,
            delivery_alerts.routes,
            delivery_alerts.respond_to_delivery_alert,
            CommandKind.DELIVERY_ALERT_RESPONSE,
            delivery_alerts.DeliveryAlertResponseQuery,
            {"delivery_alert_id": delivery_alert_id, **arguments},
            idempotency_key,
            build,
        )

    @strawberry.mutation
    async def unlock_mutex_group(
        self,
        info: Info[Context, None],
        fleet: str,
        robot_name: str,
        mutex_group: str,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """``POST /fleets/{name}/unlock_mutex_group``: release a group the robot holds."""

        async def body() -> dict[str, Any]:
            query = validated(mutex_groups.UnlockMutexGroupQuery, arguments)
            bus = info.context.app[BUS_KEY]
            return await mutex_groups.unlock_command(bus, info.context.user, fleet, query)

        arguments = {"robot_name": robot_name, "mutex_group": mutex_group}
        handler, kind = mutex_groups.unlock_mutex_group, CommandKind.UNLOCK_MUTEX_GROUP
        shown = {"fleet": fleet, **arguments}
        routes = mutex_groups.routes
        return await _as_rest(info, routes, handler, kind, shown, body, idempotency_key)

    @strawberry.mutation
    async def reset_fire_alarm_trigger(
        self, info: Info[Context, None], idempotency_key: str | None = None
    ) -> CommandResult:
        """``POST /building_map/reset_fire_alarm_trigger`` (administrators)."""

        async def body() -> dict[str, Any]:
            return {}

        handler = fire_alarm.reset_fire_alarm_trigger
        kind = CommandKind.RESET_FIRE_ALARM_TRIGGER
        return await _as_rest(info, fire_alarm.routes, handler, kind, {}, body, idempotency_key)

    @strawberry.mutation
    async def put_rio(
        self, info: Info[Context, None], input: JSON, idempotency_key: str | None = None
    ) -> CommandResult:
        """``PUT /rios`` (administrators): create or replace a RIO; ``created`` in the response."""

        async def body() -> dict[str, Any]:
            return rios.rio_command(_input(rios.Rio, input))

        handler, kind = rios.put_rio, CommandKind.PUT_RIO
        shown = {"input": input}
        return await _as_rest(info, rios.routes, handler, kind, shown, body, idempotency_key)

    @strawberry.mutation
    async def save_beacon_state(
        self,
        info: Info[Context, None],
        beacon_id: str,
        online: bool,
        category: str,
        activated: bool,
        level: str,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """``POST /beacons`` (administrators): a beacon's state, published as a site's would be."""
        arguments = {
            "beacon_id": beacon_id,
            "online": online,
            "category": category,
            "activated": activated,
            "level": level,
        }
        return await _checked(
            info,
            beacons.routes,
            beacons.save_beacon_state,
            CommandKind.SAVE_BEACON_STATE,
            beacons.SaveBeaconQuery,
            arguments,
            idempotency_key,
            beacons.beacon_state,
        )

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
