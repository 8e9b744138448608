"""Commands to RMF with rmf-web's paths and bodies, sent through the hub exactly once.

rest_api writes nothing here: it validates the body, puts a
:class:`~fleetcore.contract.commands.Command` on the command channel under the
request's ``Idempotency-Key`` (one is made when absent and returned in the
response header) and waits for the hub's reply. A retry with the same key
gets the outcome of the first request, and a key used again for a different
request is a 422 (it would otherwise silently answer another request's
outcome). A reply that does not come in time gives 202 and the command's
Location, so a slow RMF is never a 500.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel

from fleetcore import metrics
from fleetcore.auth import Permission, Principal
from fleetcore.contract.commands import (
    RESERVED_KEY_PREFIX,
    Command,
    CommandKind,
    CommandReply,
    CommandStatus,
    key_problem,
)
from fleetcore.store import models as db
from rest_api.access import AUTHENTICATED, commands, principal_of
from rest_api.command_access import authorize_command
from rest_api.keys import COMMANDS_KEY, REPLY_TIMEOUT_KEY
from rest_api.models_commands import (
    CancelTaskRequest,
    DispatchTaskRequest,
    DoorRequest,
    LiftRequest,
    RobotTaskRequest,
    TaskKillRequest,
)
from rest_api.registry import ApiRoutes
from rest_api.responses import JSON, json_body, not_found, unprocessable

routes = ApiRoutes("Commands")

IDEMPOTENCY_HEADER = "Idempotency-Key"

RmfResponse = dict[str, Any]
"""RMF's response JSON for the request (``success``, ``state`` or ``errors``...)."""


def _key(request: web.Request) -> str:
    return checked_key(request.headers.get(IDEMPOTENCY_HEADER, ""))


def checked_key(given: str) -> str:
    """The client's idempotency key, or a new one when it gave none; 422 for one the hub refuses."""
    key = given.strip()
    if not key:
        return str(uuid.uuid4())
    if not key.isprintable():
        metrics.COMMAND_KEYS_REFUSED.labels("not_printable").inc()
        raise _bad_key(key, "must be printable characters", "value_error")
    problem = key_problem(key)
    if problem is not None:
        metrics.COMMAND_KEYS_REFUSED.labels("too_long").inc()
        raise _bad_key(key, problem, "string_too_long")
    if key.startswith(RESERVED_KEY_PREFIX):
        metrics.COMMAND_KEYS_REFUSED.labels("reserved").inc()
        raise _bad_key(
            key, f"keys starting {RESERVED_KEY_PREFIX!r} are the hub's own", "value_error"
        )
    return key


def _bad_key(key: str, msg: str, kind: str) -> web.HTTPUnprocessableEntity:
    return unprocessable(
        [{"loc": ["header", IDEMPOTENCY_HEADER], "msg": msg, "type": kind, "input": key}]
    )


async def _refuse_reuse(key: str, kind: CommandKind, body: dict[str, Any], requester: str) -> None:
    """A key recorded for another kind, body or user is refused, never answered with that outcome."""
    record = await db.CommandRecord.get_or_none(key=key)
    if record is None or (
        record.kind == kind.value
        and record.requester == requester
        and orjson.loads(record.body) == body
    ):
        return
    metrics.COMMAND_KEY_CONFLICTS.inc()
    # The same words whoever sent the first request and whatever it was: a key another user
    # chose tells nothing of their command (its kind, its target) to a caller who guesses it.
    raise _bad_key(
        key,
        "this key was used for a different request; use a new key for a new request",
        "idempotency_key_reused",
    )


async def submit(
    request: web.Request, kind: CommandKind, body: dict[str, Any], *, refused: int = 200
) -> web.Response:
    """Send the command and answer with RMF's response, or 202 if it is not in yet.

    ``refused`` is the status of an answer with ``success: false`` (rmf-web
    answers a refused dispatch 400 and a refused cancel 200).
    """
    key = _key(request)
    reply = await send_command(request.app, principal_of(request), kind, body, key)
    answer = _answer(key, reply, refused)
    answer.headers[IDEMPOTENCY_HEADER] = key
    return answer


async def send_command(
    app: web.Application,
    principal: Principal,
    kind: CommandKind,
    body: dict[str, Any],
    key: str,
) -> CommandReply | None:
    """Authorize, send under ``key`` (checked by :func:`checked_key`) and wait for the hub's reply.

    The one command path of every front door (REST, GraphQL). Raises the
    HTTP error REST answers: 404/403 for the object, 503 without a channel,
    422 for a key recorded before for another request (checked before
    sending and after the reply, when two requests with one key raced to the
    hub). None: no reply in time (pending).
    """
    await authorize_command(principal, kind, body)
    channel = app.get(COMMANDS_KEY)
    if channel is None:
        raise web.HTTPServiceUnavailable(
            text='{"detail": "this API has no command channel to the hub"}', content_type=JSON
        )
    requester = principal.username
    if isinstance(body.get("request"), dict):
        # The requester is who is logged in, whatever the body claims (as rmf-web does).
        body = {**body, "request": {**body["request"], "requester": requester}}
    await _refuse_reuse(key, kind, body, requester)
    command = Command(key, kind.value, body, requester, time.time_ns() // 1_000_000)
    await channel.send(command)
    reply = await channel.wait_reply(key, app[REPLY_TIMEOUT_KEY])
    # Two requests with one key may have raced to the hub: only the recorded one gets the outcome.
    await _refuse_reuse(key, kind, body, requester)
    return reply


async def submit_shaped(
    request: web.Request,
    kind: CommandKind,
    body: dict[str, Any],
    shape: Callable[[RmfResponse], tuple[Any, int]],
) -> web.Response:
    """:func:`submit`, answering a success in rmf-web's shape for the route: ``shape`` gives the
    body and status from RMF's response. A refusal (400) or a pending command (202) is as is."""
    answer = await submit(request, kind, body, refused=400)
    if answer.status != 200:
        return answer
    assert isinstance(answer.body, bytes)
    value, status = shape(orjson.loads(answer.body))
    shaped = json_body(value, status)
    shaped.headers[IDEMPOTENCY_HEADER] = answer.headers[IDEMPOTENCY_HEADER]
    return shaped


def _answer(key: str, reply: CommandReply | None, refused: int) -> web.Response:
    """RMF's response; else 202 with the command's Location (pending, or its outcome unknown)."""
    if reply is None or reply.status in (CommandStatus.PENDING, CommandStatus.UNKNOWN):
        status = CommandStatus.PENDING if reply is None else reply.status
        answer = json_body({"command": key, "status": status.value, **reply_detail(reply)}, 202)
        answer.headers["Location"] = f"/commands/{key}"
        return answer
    return json_body(reply.response, 200 if reply.status is CommandStatus.DONE else refused)


def reply_detail(reply: CommandReply | None) -> dict[str, Any]:
    """What the hub said about a command without RMF's answer (why its outcome is unknown)."""
    if reply is None or "detail" not in reply.response:
        return {}
    return {"detail": reply.response["detail"]}


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


@routes.post(
    "/tasks/dispatch_task",
    body=DispatchTaskRequest,
    response=RmfResponse,
    errors=(202, 400, 404),
    access=commands(Permission.task_submit),
)
async def post_dispatch_task(request: web.Request, body: DispatchTaskRequest) -> web.Response:
    """Dispatch a task to the best fleet (RMF's dispatch_task_response: the new task's state)."""
    return await submit(request, CommandKind.DISPATCH_TASK, dump(body), refused=400)


@routes.post(
    "/tasks/robot_task",
    body=RobotTaskRequest,
    response=RmfResponse,
    errors=(202, 400, 404),
    access=commands(Permission.task_submit),
)
async def post_robot_task(request: web.Request, body: RobotTaskRequest) -> web.Response:
    """Give a task directly to one robot of one fleet."""
    return await submit(request, CommandKind.ROBOT_TASK, dump(body), refused=400)


@routes.post(
    "/tasks/cancel_task",
    body=CancelTaskRequest,
    response=RmfResponse,
    errors=(202, 404),
    access=commands(Permission.task_cancel),
)
async def post_cancel_task(request: web.Request, body: CancelTaskRequest) -> web.Response:
    """Cancel a task; RMF's simple response says whether it was."""
    return await submit(request, CommandKind.CANCEL_TASK, dump(body))


@routes.post(
    "/tasks/kill_task",
    body=TaskKillRequest,
    response=RmfResponse,
    errors=(202, 404),
    access=commands(Permission.task_cancel),
)
async def post_kill_task(request: web.Request, body: TaskKillRequest) -> web.Response:
    """Kill a task, when cancelling it is not enough."""
    return await submit(request, CommandKind.KILL_TASK, dump(body))


@routes.post(
    "/doors/{door_name}/request",
    body=DoorRequest,
    response=RmfResponse,
    errors=(202, 404),
    access=commands(Permission.door_control),
)
async def post_door_request(request: web.Request, body: DoorRequest) -> web.Response:
    """Ask a door to open or close."""
    command = {"door_name": request.match_info["door_name"], **dump(body)}
    return await submit(request, CommandKind.DOOR_REQUEST, command)


@routes.post(
    "/lifts/{lift_name}/request",
    body=LiftRequest,
    response=RmfResponse,
    errors=(202, 404),
    access=commands(Permission.lift_control),
)
async def post_lift_request(request: web.Request, body: LiftRequest) -> web.Response:
    """Ask a lift for a session, a destination or its doors."""
    command = {"lift_name": request.match_info["lift_name"], **dump(body)}
    return await submit(request, CommandKind.LIFT_REQUEST, command)


class CommandOutcome(BaseModel):
    """A command as the hub recorded it; ``response`` is RMF's once it answered.

    The room of the same path (socket.io) gets it once the outcome is known.
    """

    command: str
    kind: str
    status: str
    request_id: str
    requester: str
    response: dict[str, Any] | None
    created_ms: int
    updated_ms: int


async def sent_command(principal: Principal, key: str) -> db.CommandRecord | None:
    """The command of that key if ``principal`` sent it (administrators: any); else None."""
    record = await db.CommandRecord.get_or_none(key=key)
    if record is None or not (principal.is_admin or record.requester == principal.username):
        return None
    return record


@routes.get("/commands/{key}", response=CommandOutcome, errors=(404,), access=AUTHENTICATED)
async def get_command(request: web.Request) -> web.Response:
    """A command's status and outcome, by its idempotency key (the Location of a 202).

    Only the user who sent it (and administrators) can see it.
    """
    key = request.match_info["key"]
    record = await sent_command(principal_of(request), key)
    if record is None:
        raise not_found(f"no command {key!r} (yet: a command just sent may still be queued)")
    return json_body(record.outcome())
