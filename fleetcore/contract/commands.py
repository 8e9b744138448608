"""Commands: what clients ask RMF to do, on their way from rest_api through the hub.

A command carries an idempotency key; the hub records key and command before
acting, so a retried, redelivered or replayed command acts once. Its reply is
keyed by the same key, so whoever asked (or asks again) finds the outcome.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from fleetcore.contract.limits import COMMAND_KEY_BYTES, column_problem
from fleetcore.contract.rooms import COMMAND

COMMAND_FRAME = "command"
"""The type of the frame the hub sends a site on /_internal: ``{type, data: {request_id, kind, body}}``."""


ALERT_RESPONSE_FRAME = "alert_response"
"""The type of the frame that tells a site an operator answered an alert:
``{type, data: {id, response}}``. It needs no answer: RMF's own
``alert_response`` topic carries no acknowledgement either."""


def alert_response_frame(alert_id: str, response: str) -> bytes:
    """The frame that hands an operator's response to an alert to the sites (ros_bridge)."""
    return orjson.dumps(
        {"type": ALERT_RESPONSE_FRAME, "data": {"id": alert_id, "response": response}}
    )


class CommandKind(enum.StrEnum):
    """What a command asks RMF to do; ``body`` is the RMF request JSON of that kind."""

    DISPATCH_TASK = "dispatch_task"
    ROBOT_TASK = "robot_task"
    CANCEL_TASK = "cancel_task"
    KILL_TASK = "kill_task"
    DOOR_REQUEST = "door_request"
    LIFT_REQUEST = "lift_request"
    INTERRUPT_TASK = "interrupt_task"
    RESUME_TASK = "resume_task"
    REWIND_TASK = "rewind_task"
    SKIP_PHASE = "skip_phase"
    UNDO_SKIP_PHASE = "undo_skip_phase"
    TASK_DISCOVERY = "task_discovery"
    ROBOT_COMMISSION = "robot_commission"
    """Decommission or recommission a robot (rmf_api_msgs ``robot_commission_request``)."""
    RESET_FIRE_ALARM_TRIGGER = "reset_fire_alarm_trigger"
    """Turn RMF's fire alarm trigger off (``false`` on ``fire_alarm_trigger``); body ``{}``."""
    UNLOCK_MUTEX_GROUP = "unlock_mutex_group"
    """Release a mutex group a robot holds (``mutex_group_manual_release``);
    body ``{fleet, robot, mutex_group}``."""
    DELIVERY_ALERT_RESPONSE = "delivery_alert_response"
    """Answer a delivery alert (``delivery_alert_response``); body: the DeliveryAlert."""
    PUT_RIO = "put_rio"
    """Create or replace a RIO (``{id, type, data}``); the hub performs it, RMF is not asked."""
    SAVE_BEACON_STATE = "save_beacon_state"
    """Record a beacon's state sent over REST; the hub performs it as if a site had sent it."""
    ROBOT_PAUSE = "robot_pause"
    """Pause a VDA 5050 vehicle (instant action ``startPause``); body ``{fleet, robot}``."""
    ROBOT_RESUME = "robot_resume"
    """Let a paused VDA 5050 vehicle go on (``stopPause``); body ``{fleet, robot}``."""
    ROBOT_CHARGE = "robot_charge"
    """Send an idle VDA 5050 vehicle to its nearest free charger; body ``{fleet, robot}``."""
    CLEAR_RESERVATIONS = "clear_reservations"
    """Free the traffic reservations of a VDA 5050 vehicle that vanished; body ``{fleet, robot}``."""


SITE_TOPIC_KINDS = frozenset(
    {
        CommandKind.DOOR_REQUEST,
        CommandKind.LIFT_REQUEST,
        CommandKind.RESET_FIRE_ALARM_TRIGGER,
        CommandKind.UNLOCK_MUTEX_GROUP,
        CommandKind.DELIVERY_ALERT_RESPONSE,
    }
)
"""Kinds a site publishes on an RMF topic of their own; nothing answers them there, so they are
done once published (the state that follows is the outcome, as in rmf-web)."""
HUB_KINDS = frozenset({CommandKind.PUT_RIO, CommandKind.SAVE_BEACON_STATE})
"""Kinds the hub performs itself: they change fleethub's record and rooms, not RMF."""
VDA5050_KINDS = frozenset(
    {
        CommandKind.ROBOT_PAUSE,
        CommandKind.ROBOT_RESUME,
        CommandKind.ROBOT_CHARGE,
        CommandKind.CLEAR_RESERVATIONS,
    }
)
"""Operator controls only fleethub's VDA 5050 master control performs: RMF has no such request."""
SITE_KINDS = frozenset(CommandKind) - HUB_KINDS - VDA5050_KINDS
"""What an RMF site performs: every command but the hub's own and the VDA 5050 controls."""
TASK_API_KINDS = SITE_KINDS - SITE_TOPIC_KINDS
"""Kinds that are RMF task API requests (``task_api_requests``), answered by RMF."""


Target = tuple[str, str]
"""What a command acts on: ``("fleet" | "task" | "door" | "lift", name)``."""

_TARGET_FIELDS: dict[CommandKind, tuple[str, str]] = {
    CommandKind.ROBOT_TASK: ("fleet", "fleet"),
    CommandKind.ROBOT_COMMISSION: ("fleet", "fleet"),
    **{kind: ("fleet", "fleet") for kind in VDA5050_KINDS},
    CommandKind.CANCEL_TASK: ("task", "task_id"),
    CommandKind.KILL_TASK: ("task", "task_id"),
    CommandKind.INTERRUPT_TASK: ("task", "task_id"),
    CommandKind.REWIND_TASK: ("task", "task_id"),
    CommandKind.SKIP_PHASE: ("task", "task_id"),
    CommandKind.RESUME_TASK: ("task", "for_task"),
    CommandKind.UNDO_SKIP_PHASE: ("task", "for_task"),
    CommandKind.DOOR_REQUEST: ("door", "door_name"),
    CommandKind.LIFT_REQUEST: ("lift", "lift_name"),
}


def command_target(kind: str, body: dict[str, Any]) -> Target | None:
    """What a command of ``kind`` acts on, or None when RMF picks (a dispatch naming no
    fleet, a task discovery): the hub sends it to the sites that serve that."""
    if kind == CommandKind.DISPATCH_TASK:
        request = body.get("request")
        fleet = request.get("fleet_name") if isinstance(request, dict) else None
        return ("fleet", fleet) if isinstance(fleet, str) and fleet else None
    try:
        what, field_name = _TARGET_FIELDS[CommandKind(kind)]
    except (KeyError, ValueError):
        return None
    name = body.get(field_name)
    return (what, name) if isinstance(name, str) and name else None


DECLINED = "declined"
"""The error category of a bidder's answer that passes a dispatch naming no fleet on.

A VDA 5050 master control (``Serves.bids``) gets such a dispatch before RMF's
dispatcher; when none of its fleets can do the task it declines, and the hub
hands the command to the next sites (:mod:`hub.rmf_gateway`).
"""


def decline(detail: str) -> dict[str, Any]:
    """A bidder's answer that leaves a dispatch naming no fleet to the other sites."""
    return {
        "success": False,
        "errors": [{"code": 1, "category": DECLINED, "detail": detail}],
    }


def declined(response: dict[str, Any]) -> bool:
    """Whether ``response`` is a bidder's :func:`decline`."""
    errors = response.get("errors")
    return (
        response.get("success") is False
        and isinstance(errors, list)
        and any(isinstance(e, dict) and e.get("category") == DECLINED for e in errors)
    )


TASK_CREATING_KINDS = frozenset({CommandKind.DISPATCH_TASK, CommandKind.ROBOT_TASK})
"""Kinds whose success creates a task (its request is kept for ``GET /tasks/{id}/request``)."""

REQUEST_LABEL = "fleethub.request_id"
"""The booking label a task-creating command carries (``fleethub.request_id=<request_id>``).

RMF copies booking labels into the task's state, so a hub that lost RMF's
answer (it crashed meanwhile) finds the task the command created in the
task states RMF keeps reporting, instead of asking RMF again.
"""


RESERVED_KEY_PREFIX = "fleethub-"
"""Idempotency keys the hub makes itself (scheduled occurrences); clients may not use them."""


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be an idempotency key, or None: it is stored (as wide as
    :data:`~fleetcore.contract.limits.COMMAND_KEY_BYTES`) and names the command's room."""
    return column_problem(key, COMMAND_KEY_BYTES) or COMMAND.param_problem(key)


def request_id_for(key: str) -> str:
    """RMF's request_id for an idempotency key: the same for every retry of the key."""
    return "fh-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def command_frame(request_id: str, kind: str, body: dict[str, Any]) -> bytes:
    """The frame that asks a site (the simulator, ros_bridge) to perform a command."""
    return orjson.dumps(
        {"type": COMMAND_FRAME, "data": {"request_id": request_id, "kind": kind, "body": body}}
    )


def labelled(kind: str, body: dict[str, Any], request_id: str) -> dict[str, Any]:
    """The body RMF gets: a task-creating request also carries :data:`REQUEST_LABEL`."""
    if kind not in TASK_CREATING_KINDS or not isinstance(body.get("request"), dict):
        return body
    request = body["request"]
    labels = [*request.get("labels", []), f"{REQUEST_LABEL}={request_id}"]
    return {**body, "request": {**request, "labels": labels}}


def commission_done() -> dict[str, Any]:
    """rmf_api_msgs ``robot_commission_response`` of a commission done, plus ``success`` for the hub."""
    ok = {"success": True}
    return {
        "success": True,
        "commission": ok,
        "pending_dispatch_tasks_policy": ok,
        "pending_direct_tasks_policy": ok,
    }


class CommandStatus(enum.StrEnum):
    PENDING = "pending"
    """Recorded by the hub and sent to RMF, which has not answered yet."""
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"
    """The hub that sent it died before RMF answered, and RMF's state does not tell: not re-sent."""


@dataclass(frozen=True, slots=True)
class Command:
    key: str
    """Idempotency key: one action per key, however often the command arrives."""
    kind: str
    """What to do, e.g. ``dispatch_task``, ``cancel_task``, ``door_request``."""
    body: dict[str, Any]
    requester: str
    sent_ms: int

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Command:
        return cls(**orjson.loads(raw))


@dataclass(frozen=True, slots=True)
class CommandReply:
    key: str
    status: CommandStatus
    response: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> CommandReply:
        doc = orjson.loads(raw)
        return cls(key=doc["key"], status=CommandStatus(doc["status"]), response=doc["response"])
