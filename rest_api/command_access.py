"""Whether a principal may send a command: one rule per command kind, on the object it targets.

``submit`` asks here before anything goes to the hub, so every command
route, present or added later, is checked by the kind it sends. The object
first: another group's door, robot or task is 404 (as if it did not
exist); a visible one without the permission is 403. A kind with no rule
here is refused, so a new kind cannot slip through unchecked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fleetcore.auth import Permission, Principal
from fleetcore.auth.dispatching import dispatch_fleet, may_dispatch
from fleetcore.auth.visibility import may_read_task
from fleetcore.contract.commands import CommandKind
from rest_api.access import forbidden
from rest_api.responses import not_found
from rest_api.visibility import task_row

Rule = Callable[[Principal, dict[str, Any]], Awaitable[None]]


def _deny(principal: Principal, what: str) -> Exception:
    return forbidden(f"{principal.username} may not {what}")


def _device_rule(
    kind: str,
    sees: Callable[[Principal, str], bool],
    can: Callable[[Principal, Permission, str], bool],
    controls: Permission,
) -> Rule:
    """A door or lift named by the body's ``<kind>_name``: seen (else 404), then controlled."""

    async def rule(principal: Principal, body: dict[str, Any]) -> None:
        name = str(body.get(f"{kind}_name", ""))
        if not sees(principal, name):
            raise not_found(f"no {kind} named {name!r}")
        if not can(principal, controls, name):
            raise _deny(principal, f"control {kind} {name!r}")

    return rule


def _robot_rule(permission: Permission) -> Rule:
    async def rule(principal: Principal, body: dict[str, Any]) -> None:
        fleet, robot = str(body.get("fleet", "")), str(body.get("robot", ""))
        if not principal.sees_robot(fleet, robot):
            raise not_found(f"no robot {robot!r} in fleet {fleet!r}")
        if not principal.can_robot(permission, fleet, robot):
            raise _deny(principal, f"{permission} on {fleet}/{robot}")

    return rule


async def _dispatch(principal: Principal, body: dict[str, Any]) -> None:
    """RMF picks the robot, so the user must be allowed on the whole fleet they name."""
    request = body.get("request") or {}
    fleet = dispatch_fleet(request)
    if fleet is None:
        raise _deny(principal, "dispatch to any fleet (name request.fleet_name)")
    if not principal.sees_fleet(fleet):
        raise not_found(f"no fleet named {fleet!r}")
    if not may_dispatch(principal, request):
        raise _deny(principal, f"submit tasks to fleet {fleet!r}")


async def _task_control(principal: Principal, body: dict[str, Any]) -> None:
    """A task's own robot decides; an unassigned task may be controlled by its requester."""
    task_id = str(body.get("task_id") or body.get("for_task") or "")
    task = await task_row(task_id)
    if task is None or not may_read_task(principal, task):
        raise not_found(f"no task {task_id!r}")
    allowed = (
        principal.can_robot(Permission.task_cancel, *task.robot)
        if task.robot is not None
        else task.requester == principal.username
    )
    if not allowed:
        raise _deny(principal, f"control task {task_id!r}")


async def _delivery_alert(principal: Principal, body: dict[str, Any]) -> None:
    """A delivery alert is about its task: answered by who may respond to alerts on its robot."""
    task_id = str(body.get("task_id", ""))
    task = await task_row(task_id)
    if task is None or not may_read_task(principal, task):
        raise not_found(f"no task {task_id!r}")
    allowed = (
        principal.can_robot(Permission.alert_respond, *task.robot)
        if task.robot is not None
        else task.requester == principal.username
    )
    if not allowed:
        raise _deny(principal, f"respond to delivery alerts of task {task_id!r}")


async def _administrators(principal: Principal, body: dict[str, Any]) -> None:
    """Site-wide changes no security group scopes; ``authorize_command`` lets admins through."""
    raise _deny(principal, "make site-wide changes (administrators only)")


async def _any_submitter(principal: Principal, body: dict[str, Any]) -> None:
    if not principal.holds(Permission.task_submit):
        raise _deny(principal, "ask the fleets for their task types")


RULES: dict[str, Rule] = {
    "dispatch_task": _dispatch,
    "robot_task": _robot_rule(Permission.task_submit),
    "cancel_task": _task_control,
    "kill_task": _task_control,
    "interrupt_task": _task_control,
    "resume_task": _task_control,
    "rewind_task": _task_control,
    "skip_phase": _task_control,
    "undo_skip_phase": _task_control,
    "door_request": _device_rule(
        "door", Principal.sees_door, Principal.can_door, Permission.door_control
    ),
    "lift_request": _device_rule(
        "lift", Principal.sees_lift, Principal.can_lift, Permission.lift_control
    ),
    "task_discovery": _any_submitter,
    "robot_commission": _robot_rule(Permission.task_submit),
    "robot_pause": _robot_rule(Permission.task_submit),
    "robot_resume": _robot_rule(Permission.task_submit),
    "robot_charge": _robot_rule(Permission.task_submit),
    "clear_reservations": _robot_rule(Permission.task_submit),
    "unlock_mutex_group": _robot_rule(Permission.task_submit),
    "delivery_alert_response": _delivery_alert,
    "reset_fire_alarm_trigger": _administrators,
    "put_rio": _administrators,
    "save_beacon_state": _administrators,
}
"""Task control (cancel, kill, interrupt, resume, rewind, skip) needs task_cancel on the task's
robot; decommissioning, pausing, resuming or charging a robot, clearing its reservations or
releasing a mutex group it holds, like giving it a task, needs task_submit on it (the routes of
decommissioning and clearing reservations are for administrators besides); a delivery alert's response alert_respond on its task's robot. Resetting the
fire alarm, writing RIOs and beacon states are for administrators (rmf-web checks nothing). Keyed by
:class:`CommandKind` value; tests/auth checks that every kind has a rule."""


async def authorize_command(principal: Principal, kind: CommandKind, body: dict[str, Any]) -> None:
    """Raise 404/403 unless ``principal`` may send this command."""
    if principal.is_admin:
        return
    rule = RULES.get(kind.value)
    if rule is None:
        raise _deny(principal, f"send {kind} commands (no rule; administrators only)")
    await rule(principal, body)
