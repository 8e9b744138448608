"""Operators' controls of VDA 5050 vehicles, in memory: the master control answers the hub's commands.

What needs no broker: refusals, out of service across a restart, and
clearing a vanished vehicle's reservations. The end-to-end tests over MQTT
and REST are in ``test_controls_end_to_end.py``.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

import pytest

from fleetcore.contract.commands import COMMAND_FRAME, CommandKind
from fleetcore.contract.vda5050 import VehicleId
from tests.vda5050.loopback import MANUFACTURER, Loopback, patrol
from vda5050.traffic import robot_key

FLEET = "vda"


@pytest.fixture
def loop(tmp_path: Path) -> Loopback:
    return Loopback(tmp_path / "journal.sqlite3")


def command(loop: Loopback, kind: CommandKind, robot: str, **body: Any) -> dict[str, Any]:
    """The master control's answer to the hub's command ``kind`` for ``robot``."""
    request_id = f"r-{uuid.uuid4().hex}"
    data = {
        "request_id": request_id,
        "kind": kind.value,
        "body": {"fleet": FLEET, "robot": robot, **body},
    }
    loop.master.on_hub({"type": COMMAND_FRAME, "data": data})
    answers = [a for a in loop.hub("command_response") if a["request_id"] == request_id]
    assert len(answers) == 1, answers
    return answers[0]


def reason(answer: dict[str, Any]) -> str:
    assert answer["success"] is False, answer
    return str(answer["errors"][0]["detail"])


def decommission(loop: Loopback, robot: str, *, direct_policy: str = "cancel") -> dict[str, Any]:
    return command(
        loop,
        CommandKind.ROBOT_COMMISSION,
        robot,
        commission={"dispatch_tasks": False, "direct_tasks": False, "idle_behavior": False},
        pending_dispatch_tasks_policy="reassign",
        pending_direct_tasks_policy=direct_policy,
    )


def test_charge_without_a_reachable_free_charger_is_refused_with_the_reason(
    loop: Loopback,
) -> None:
    for name, vertex in list(loop.graph.vertices.items()):
        loop.graph.vertices[name] = dataclasses.replace(vertex, charger=False)
    assert "no free charger is reachable for v1" in reason(
        command(loop, CommandKind.ROBOT_CHARGE, "v1")
    )
    assert loop.orders() == []


def test_charge_of_a_vehicle_busy_with_a_task_is_refused(loop: Loopback) -> None:
    task = loop.dispatch(patrol("room_102"), robot="v1")
    assert loop.status(task) == "underway"
    assert f"busy with task {task}" in reason(command(loop, CommandKind.ROBOT_CHARGE, "v1"))


def test_a_control_for_a_robot_that_never_connected_is_refused(loop: Loopback) -> None:
    assert "no vehicle 'ghost'" in reason(command(loop, CommandKind.ROBOT_PAUSE, "ghost"))


def test_a_control_for_a_fleet_the_master_control_does_not_serve_gets_no_answer(
    loop: Loopback,
) -> None:
    data = {
        "request_id": "elsewhere",
        "kind": CommandKind.ROBOT_PAUSE.value,
        "body": {"fleet": "rmf_fleet", "robot": "v1"},
    }
    loop.master.on_hub({"type": COMMAND_FRAME, "data": data})
    assert loop.hub("command_response") == []


def test_decommissioning_cancels_the_robots_queued_own_tasks_when_asked(loop: Loopback) -> None:
    first = loop.dispatch(patrol("room_102"), robot="v1")
    queued = loop.dispatch(patrol("lobby"), robot="v1")
    assert loop.status(queued) == "queued"
    assert decommission(loop, "v1")["success"] is True
    assert loop.status(queued) == "canceled"
    assert loop.status(first) == "underway", "the running task goes on"


def test_out_of_service_outlives_a_restart_of_the_master_control(loop: Loopback) -> None:
    assert decommission(loop, "v1")["success"] is True
    loop.restart_master()
    loop.report("v1")
    loop.master.flush()
    robot = [s for s in loop.hub("fleet_state_update") if s["name"] == FLEET][-1]["robots"]["v1"]
    assert robot["commission"]["dispatch_tasks"] is False
    task = loop.dispatch(patrol("lobby"), robot="v1")
    loop.run(2.0)
    assert loop.status(task) == "queued"


def test_clearing_reservations_is_refused_while_the_vehicle_reports(loop: Loopback) -> None:
    loop.dispatch(patrol("room_102"), robot="v1")
    assert "still reports its state" in reason(command(loop, CommandKind.CLEAR_RESERVATIONS, "v1"))
    assert loop.master.traffic.held(robot_key(FLEET, "v1"))


def test_clearing_a_vanished_vehicles_reservations_frees_them_and_cancels_its_task(
    loop: Loopback,
) -> None:
    task = loop.dispatch(patrol("room_102"), robot="v1")
    key = robot_key(FLEET, "v1")
    held = loop.master.traffic.held(key)
    assert held
    # Silent past the state timeout, with no connection message: it vanished.
    loop.mono += loop.master.config.state_timeout_s + 1
    loop.master.tick()
    answer = command(loop, CommandKind.CLEAR_RESERVATIONS, "v1")
    assert answer["success"] is True and set(answer["cleared"]) == held
    assert loop.master.traffic.held(key) == set() and key not in loop.master.traffic.paths
    assert loop.status(task) == "canceled"
    vehicle = loop.master.vehicles[VehicleId(MANUFACTURER, "v1")]
    assert vehicle.task_id == ""
