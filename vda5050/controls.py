"""Operators' controls of VDA 5050 vehicles: pause, resume, charge, (de)commission, clear reservations.

They come as the hub's commands (``robot_commission`` and
:data:`~fleetcore.contract.commands.VDA5050_KINDS`, body ``{fleet, robot,
...}``), which the hub routes to the master control that serves the fleet;
:meth:`MasterControl._act <vda5050.master.MasterControl>` hands them here.
Each answers as RMF answers a request (``success``, ``errors`` with the
reason), so rest_api answers a refusal 400 with the reason in words.

- **Pause / resume**: the instant actions ``startPause`` / ``stopPause``.
  Nothing else changes: the vehicle keeps its order and traffic control its
  reservations; its state says ``paused`` and it takes no new order until
  resumed.
- **Charge**: the same errand the master control sends a vehicle on when
  its battery is critical, to the nearest charger no other robot holds;
  refused unless the vehicle is idle and such a charger is reachable.
- **Commission**: rmf_api_msgs' commission, kept in the journal (an
  operator's decision outlives a restart). A robot out of service gets no
  new task, dispatched (``dispatch_tasks``) or its own (``direct_tasks``);
  the task it runs goes on. Its queued own tasks are cancelled when
  ``pending_direct_tasks_policy`` says ``cancel``; dispatched tasks are
  bound to a vehicle only when they start, so none is pending on it.
- **Clear reservations**: for a vehicle that vanished without a word (its
  connection never said so, or it was carried off), whose reservations
  would hold the others back for ever. Refused while it still reports. Its
  running task is cancelled (a ``cancelOrder`` waits for it, should it come
  back) and traffic control forgets it.

This module is part of the master control's command handling: it uses the
master's own helpers, as its methods would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from fleetcore import metrics
from fleetcore.contract.commands import VDA5050_KINDS, CommandKind, commission_done
from fleetcore.contract.vda5050 import v2
from vda5050.journal import Journal
from vda5050.requests import TaskRefused
from vda5050.tasks import VdaTask
from vda5050.traffic import robot_key
from vda5050.vehicles import IN_SERVICE, Vehicle

if TYPE_CHECKING:
    from vda5050.master import MasterControl

CONTROL_KINDS = VDA5050_KINDS | {CommandKind.ROBOT_COMMISSION}
"""The hub's commands this module performs."""

Control = Callable[["MasterControl", str, str, dict[str, Any]], dict[str, Any]]


def act(master: MasterControl, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a control, or None when the robot's fleet is not this site's.

    Raises :class:`TaskRefused` with the reason when the control cannot be done.
    """
    fleet, robot = str(body.get("fleet", "")), str(body.get("robot", ""))
    if fleet not in master.served_fleets():
        return None
    return _CONTROLS[CommandKind(kind)](master, fleet, robot, body)


def takes(vehicle: Vehicle, task: VdaTask) -> bool:
    """Whether ``vehicle``'s commission lets it take ``task`` (its own, or a dispatched one)."""
    return vehicle.commission["direct_tasks" if task.requested_robot else "dispatch_tasks"]


def restore_commission(journal: Journal, vehicle: Vehicle) -> None:
    """The commission an operator gave the vehicle's robot before a restart."""
    doc = journal.commissions().get(robot_key(vehicle.fleet, vehicle.robot))
    if doc is not None:
        vehicle.commission = {**IN_SERVICE, **orjson.loads(doc)}


def _pause(master: MasterControl, fleet: str, robot: str, body: dict[str, Any]) -> dict[str, Any]:
    return _instant(master, _online(master, fleet, robot), "startPause", "Paused by an operator")


def _resume(master: MasterControl, fleet: str, robot: str, body: dict[str, Any]) -> dict[str, Any]:
    return _instant(master, _online(master, fleet, robot), "stopPause", "Resumed by an operator")


def _instant(
    master: MasterControl, vehicle: Vehicle, action_type: str, text: str
) -> dict[str, Any]:
    action = v2.Action(
        actionType=action_type,
        actionId=f"{action_type}-{uuid.uuid4().hex[:12]}",
        blockingType="HARD",
    )
    master.outbox.instant_actions(vehicle.id, [action])
    metrics.VDA_SENT.labels(action_type).inc()
    master._fleet_note(vehicle.fleet, vehicle.robot, text)
    return {"success": True, "action_id": action.actionId}


def _charge(master: MasterControl, fleet: str, robot: str, body: dict[str, Any]) -> dict[str, Any]:
    vehicle = _online(master, fleet, robot)
    if vehicle.task_id:
        raise TaskRefused(f"{robot} is busy with task {vehicle.task_id}: cancel it first")
    if not vehicle.idle:
        raise TaskRefused(f"{robot} is not ready for an order (paused, manual mode, error or busy)")
    origin = master._origin(vehicle)
    if origin is None:
        raise TaskRefused(f"{robot} has not reported where it is")
    if origin.on_node and origin.vertex.charger:
        raise TaskRefused(f"{robot} is at charger {origin.vertex.id} already")
    charger = master.nearest_charger(vehicle, origin.start)
    if charger is None:
        raise TaskRefused(f"no free charger is reachable for {robot} from {origin.start}")
    if not master._errand(vehicle, "charge", charger, master._clock_ms()):
        raise TaskRefused(f"{robot} cannot be sent to charger {charger}")
    master._fleet_note(fleet, robot, f"Sent to charge at [place:{charger}] by an operator")
    return {"success": True, "task_id": vehicle.task_id, "charger": charger}


def _commission(
    master: MasterControl, fleet: str, robot: str, body: dict[str, Any]
) -> dict[str, Any]:
    asked = body.get("commission")
    if not isinstance(asked, dict):
        raise TaskRefused("commission must be an object")
    vehicle = master.vehicle_of(fleet, robot)
    if vehicle is None:
        raise TaskRefused(f"no vehicle {robot!r} of fleet {fleet!r} has connected")
    vehicle.commission = {
        name: bool(asked.get(name, was)) for name, was in vehicle.commission.items()
    }
    master.journal.save_commission(robot_key(fleet, robot), orjson.dumps(vehicle.commission))
    in_service = vehicle.commission["dispatch_tasks"] or vehicle.commission["direct_tasks"]
    master._fleet_note(
        fleet,
        robot,
        "Back in service" if in_service else "Taken out of service by an operator",
        "info" if in_service else "warning",
    )
    if not vehicle.commission["direct_tasks"] and body.get("pending_direct_tasks_policy") == (
        "cancel"
    ):
        for task in _queued_for(master, fleet, robot):
            master.cancel(task, "canceled", ["decommissioned"])
    master._dirty.add(fleet)
    return commission_done()


def _clear_reservations(
    master: MasterControl, fleet: str, robot: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Free a vanished robot's nodes and lanes, and cancel what it was running.

    The cancel means a vehicle that comes back gets ``cancelOrder`` instead of
    driving on into space it no longer holds.
    """
    known = robot_key(fleet, robot) in master.recovery.vanished
    if not known and master.vehicle_of(fleet, robot) is None:
        raise TaskRefused(f"no vehicle {robot!r} of fleet {fleet!r} is known")
    cleared = master.clear_reservations(fleet, robot)
    if not cleared.ok:
        raise TaskRefused(f"{robot}: {cleared.refused}")
    for task in [
        t
        for t in master.tasks.values()
        if not t.terminal and t.order is not None and (t.fleet, t.robot) == (fleet, robot)
    ]:
        master.cancel(task, "canceled", ["reservations cleared"])
    return {"success": True, "cleared": list(cleared.released)}


def _online(master: MasterControl, fleet: str, robot: str) -> Vehicle:
    vehicle = master.vehicle_of(fleet, robot)
    if vehicle is None:
        raise TaskRefused(f"no vehicle {robot!r} of fleet {fleet!r} has connected")
    if not vehicle.fresh(master._monotonic(), master.config.state_timeout_s):
        raise TaskRefused(f"{robot} is {vehicle.connection.lower()} or silent")
    return vehicle


def _queued_for(master: MasterControl, fleet: str, robot: str) -> list[VdaTask]:
    return [
        t
        for t in master.tasks.values()
        if t.status == "queued"
        and t.order is None
        and t.requested_robot
        and (t.fleet, t.robot) == (fleet, robot)
    ]


_CONTROLS: dict[CommandKind, Control] = {
    CommandKind.ROBOT_PAUSE: _pause,
    CommandKind.ROBOT_RESUME: _resume,
    CommandKind.ROBOT_CHARGE: _charge,
    CommandKind.ROBOT_COMMISSION: _commission,
    CommandKind.CLEAR_RESERVATIONS: _clear_reservations,
}
