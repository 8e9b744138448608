"""The Mutation root: REST's commands, through the one command path (``send_command``).

Each takes the REST body as ``input`` (validated by the same model) and an
``idempotencyKey``: a retry with the key gets the first request's outcome
and the hub acts once; without one a key is made and returned in
``command``. The answer is REST's: RMF's response when it came in time,
else ``pending`` with the key to read or subscribe to.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson
import strawberry
from aiohttp import web
from pydantic import BaseModel
from strawberry.types import Info

from fleetcore.contract.commands import CommandKind, CommandStatus
from rest_api.access import AUDIT_DETAIL_BYTES, record_audit
from rest_api.graphql.context import (
    GRAPHQL_PATH,
    STATUS_OF,
    Context,
    Refusal,
    refusal,
    validated,
)
from rest_api.graphql.types import JSON, AlertResponse, CommandResult
from rest_api.models_commands import (
    CancelTaskRequest,
    DispatchTaskRequest,
    DoorRequest,
    LiftRequest,
    RobotTaskRequest,
    TaskInterruptionRequest,
    TaskKillRequest,
    TaskPhaseSkipRequest,
    TaskResumeRequest,
    TaskRewindRequest,
    UndoPhaseSkipRequest,
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
    checked = checked_key(key or "")
    reply = await send_command(info.context.app, info.context.user, kind, body, checked)
    if reply is None or reply.status in (CommandStatus.PENDING, CommandStatus.UNKNOWN):
        status = CommandStatus.PENDING if reply is None else reply.status
        detail = reply_detail(reply).get("detail")
        return CommandResult(command=checked, status=status.value, response=None, detail=detail)
    return CommandResult(
        command=checked, status=reply.status.value, response=reply.response, detail=None
    )


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
