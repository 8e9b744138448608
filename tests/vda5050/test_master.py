"""The master control against simulated vehicles, in memory: fleets, orders, tasks, restarts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from prometheus_client import REGISTRY

from fleetcore.contract.vda5050 import Topic, VehicleId
from tests.vda5050.loopback import TOPICS, Loopback, delivery, patrol
from vda5050.master import MasterConfig
from vda5050.requests import TaskRefused

START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def loop(tmp_path: Path) -> Loopback:
    return Loopback(tmp_path / "journal.sqlite3")


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"fleethub_vda5050_{name}_total", labels) or 0.0


def test_unknown_vehicles_join_the_default_fleet_as_their_serial_number(loop: Loopback) -> None:
    assert loop.fleet_robots() == set()
    loop.master.flush()
    assert loop.fleet_robots() == {"v1", "v2"}


def test_configured_vehicles_are_the_fleet_and_robot_they_are_named(tmp_path: Path) -> None:
    config = MasterConfig(
        topics=TOPICS,
        vehicles={VehicleId("acme", "v1"): ("forklifts", "fl-1")},
        default_fleet="",
    )
    before = _count("unknown_vehicles", action="refused")
    loop = Loopback(tmp_path / "j.sqlite3", config=config)
    loop.master.flush()
    assert loop.fleet_robots("forklifts") == {"fl-1"}
    assert set(loop.master.served_fleets()) == {"forklifts"}
    assert _count("unknown_vehicles", action="refused") == before + 1


def test_a_broken_connection_takes_the_vehicle_out_of_its_fleet_state(loop: Loopback) -> None:
    loop.master.flush()
    loop.connect("v1", "CONNECTIONBROKEN")
    loop.master.flush()
    assert loop.fleet_robots() == {"v2"}
    notes = [e["text"] for log in loop.hub("fleet_log_update") for e in log["robots"].get("v1", [])]
    assert any("CONNECTIONBROKEN" in note for note in notes)


def test_a_state_with_an_older_header_id_is_dropped_and_counted(loop: Loopback) -> None:
    vehicle = loop.vehicles["v1"]
    older = vehicle.state(99, START)
    older.batteryState.batteryCharge = 5.0
    newer = vehicle.state(100, START + timedelta(milliseconds=500))
    before = _count("outdated")
    loop.publish("v1", Topic.STATE, orjson.dumps(newer.model_dump(mode="json", exclude_none=True)))
    loop.publish("v1", Topic.STATE, orjson.dumps(older.model_dump(mode="json", exclude_none=True)))
    assert _count("outdated") == before + 1
    state = loop.master.vehicles[VehicleId("acme", "v1")].state
    assert state is not None and state.headerId == 100


def test_a_vehicle_that_comes_online_again_may_count_its_header_ids_from_zero(
    loop: Loopback,
) -> None:
    loop.publish("v1", Topic.STATE, loop.vehicles["v1"].state(500).model_dump_json().encode())
    loop.connect("v1")
    loop.publish("v1", Topic.STATE, loop.vehicles["v1"].state(0).model_dump_json().encode())
    state = loop.master.vehicles[VehicleId("acme", "v1")].state
    assert state is not None and state.headerId == 0


def test_a_patrol_completes_through_order_updates_that_stitch_on_the_decision_point(
    loop: Loopback,
) -> None:
    task = loop.dispatch(patrol("room_102", "lobby"))
    loop.until(lambda: loop.status(task) == "completed")
    orders = [o for o in loop.orders() if o.orderId == task]
    assert orders[0].orderUpdateId == 0
    assert [o.orderUpdateId for o in orders] == list(range(len(orders)))
    assert len(orders) > 2, "the route should be released in several updates"
    for previous, update in itertools.pairwise(orders):
        decision = [n for n in previous.nodes if n.released][-1]
        first = update.nodes[0]
        assert (first.nodeId, first.sequenceId) == (decision.nodeId, decision.sequenceId)
        assert first.model_dump() == decision.model_dump(), "the stitching node must not change"
    released = [n for o in orders for n in o.nodes if n.released]
    assert all(n.sequenceId % 2 == 0 for n in released)
    state = loop.master.tasks[task].state()
    assert state["completed"] == [1, 2]
    assert state["assigned_to"]["group"] == "vda"


def test_a_delivery_picks_and_drops_with_actions_on_the_place_nodes(loop: Loopback) -> None:
    task = loop.dispatch(delivery())
    loop.until(lambda: loop.status(task) == "completed")
    actions = {a.actionType: n.nodeId for o in loop.orders() for n in o.nodes for a in n.actions}
    assert actions == {"pick": "pantry", "drop": "room_101"}
    logs = [
        e["text"]
        for log in loop.hub("task_log_update")
        for p in log.get("phases", {}).values()
        for es in p.get("events", {}).values()
        for e in es
    ]
    assert "Pick up finished" in logs and "Drop off finished" in logs


def test_a_failed_action_fails_the_task(tmp_path: Path) -> None:
    from simulator.vehicles import VehicleProfile

    loop = Loopback(
        tmp_path / "j.sqlite3", profile=VehicleProfile(speed_mps=2.0, failure_probability=1.0)
    )
    task = loop.dispatch(delivery())
    loop.until(lambda: loop.master.tasks[task].terminal)
    assert loop.status(task) == "failed"


def test_cancel_sends_cancel_order_and_the_vehicle_stops(loop: Loopback) -> None:
    task = loop.dispatch(patrol("room_102"))
    loop.run(2.0)
    loop.master.cancel(loop.master.tasks[task], "canceled", ["operator"])
    assert loop.status(task) == "canceled"
    cancels = [
        a for m in loop.instant_actions() for a in m.actions if a.actionType == "cancelOrder"
    ]
    assert [a.actionId for a in cancels] == [f"{task}:cancel"]
    loop.run(1.0)
    vehicle = next(v for v in loop.vehicles.values() if v.order_id == task)
    assert vehicle.nodes == [] and not vehicle.driving
    assert loop.master.tasks[task].state()["cancellation"]["labels"] == ["operator"]


def test_a_warning_or_a_fatal_error_blocks_the_task_until_it_clears(loop: Loopback) -> None:
    first = loop.dispatch(patrol("room_102"))
    loop.run(1.0)
    vehicle = next(v for v in loop.vehicles.values() if v.order_id == first)
    vehicle.inject_error("obstacle", "WARNING", "something in the way")
    loop.run(0.5)
    assert loop.status(first) == "blocked"
    vehicle.clear_errors()
    loop.run(0.5)
    assert loop.status(first) == "underway"
    vehicle.inject_error("laserScanner", "FATAL", "contaminated")
    loop.run(0.5)
    assert (
        loop.status(first) == "blocked"
    )  # the hub's policy moves it (tests/vda5050/test_failover.py)
    robot = [s for s in loop.hub("fleet_state_update") if s["robots"]][-1]["robots"]
    assert any(r["status"] == "error" for r in robot.values())


def test_a_lost_order_update_is_sent_again_unchanged(loop: Loopback) -> None:
    dropped: list[int] = []

    def lose_first_update(message: object) -> bool:
        payload = orjson.loads(message.payload)  # type: ignore[attr-defined]
        if payload.get("orderUpdateId") == 1 and not dropped:
            dropped.append(payload["headerId"])
            return True
        return False

    loop.lose = lose_first_update
    task = loop.dispatch(patrol("room_102", "lobby"))
    loop.until(lambda: loop.status(task) == "completed")
    updates = [o for o in loop.orders() if o.orderUpdateId == 1]
    assert len(updates) == 2
    assert updates[0].model_dump(exclude={"headerId", "timestamp"}) == updates[1].model_dump(
        exclude={"headerId", "timestamp"}
    )
    assert updates[1].headerId > updates[0].headerId


def test_after_a_restart_the_running_order_goes_on_with_the_next_update_id(
    loop: Loopback,
) -> None:
    task = loop.dispatch(patrol("room_102", "lobby"))
    loop.run(3.0)
    before = loop.orders()
    loop.restart_master()
    loop.until(lambda: loop.status(task) == "completed")
    after = loop.orders()[len(before) :]
    assert {o.orderId for o in after} == {task}
    assert after[0].orderUpdateId == before[-1].orderUpdateId + 1
    assert after[0].headerId > before[-1].headerId, "header ids never repeat across restarts"
    assert len({o.orderUpdateId for o in loop.orders()}) == len(loop.orders())


def test_a_restarted_master_control_holds_again_what_its_running_orders_were_released(
    loop: Loopback,
) -> None:
    task = loop.dispatch(patrol("room_102"))
    loop.run(2.0)
    robot = f"vda/{loop.master.tasks[task].robot}"
    held = loop.master.traffic.held(robot)
    assert len(held) > 1
    loop.restart_master()
    assert loop.master.traffic.held(robot) == held
    loop.until(lambda: loop.status(task) == "completed")


def test_commands_for_other_fleets_and_tasks_get_no_answer(loop: Loopback) -> None:
    for kind, body in (
        ("dispatch_task", {"request": {**patrol("lobby"), "fleet_name": "tinyRobot"}}),
        ("cancel_task", {"task_id": "patrol.dispatch-123"}),
    ):
        loop.master.on_hub(
            {"type": "command", "data": {"request_id": "r1", "kind": kind, "body": body}}
        )
    assert loop.hub("command_response") == []


def test_a_repeated_command_is_answered_again_not_acted_on_twice(loop: Loopback) -> None:
    command = {
        "type": "command",
        "data": {
            "request_id": "fh-1",
            "kind": "dispatch_task",
            "body": {"request": {**patrol("lobby"), "fleet_name": "vda"}},
        },
    }
    loop.master.on_hub(command)
    loop.master.on_hub(command)
    answers = loop.hub("command_response")
    assert len(answers) == 2 and answers[0] == answers[1]
    assert len(loop.master.tasks) == 1


def test_a_request_the_fleet_cannot_do_is_refused_with_the_reason(loop: Loopback) -> None:
    with pytest.raises(TaskRefused, match="not a place"):
        loop.dispatch(patrol("nowhere"))
    with pytest.raises(TaskRefused, match="category 'clean'"):
        loop.dispatch({"category": "clean", "description": {"zone": "lobby"}})


def test_a_compose_go_to_place_task_is_taken_as_rmf_web_sends_it(loop: Loopback) -> None:
    task = loop.dispatch(
        {
            "category": "compose",
            "description": {
                "category": "go_to_place",
                "phases": [
                    {
                        "activity": {
                            "category": "sequence",
                            "description": {
                                "activities": [{"category": "go_to_place", "description": "pantry"}]
                            },
                        }
                    }
                ],
            },
        }
    )
    loop.until(lambda: loop.status(task) == "completed")


def test_a_task_waits_in_the_queue_until_a_vehicle_is_free(tmp_path: Path) -> None:
    loop = Loopback(tmp_path / "j.sqlite3", vehicles=1)
    first = loop.dispatch(patrol("room_102"))
    second = loop.dispatch(patrol("pantry"))
    assert loop.status(second) == "queued"
    loop.until(lambda: loop.status(second) == "completed")
    assert loop.status(first) == "completed"


def test_a_robot_task_goes_to_the_robot_it_names(loop: Loopback) -> None:
    task = loop.dispatch(patrol("charger_1"), robot="v2")
    assert loop.master.tasks[task].state()["assigned_to"] == {"group": "vda", "name": "v2"}
    loop.until(lambda: loop.status(task) == "completed")
    with pytest.raises(TaskRefused, match="no robot 'v9'"):
        loop.dispatch(patrol("lobby"), robot="v9")


def test_kill_over_the_command_path_answers_success_and_stops_the_order(loop: Loopback) -> None:
    task = loop.dispatch(patrol("room_102"))
    loop.run(1.0)
    loop.master.on_hub(
        {
            "type": "command",
            "data": {"request_id": "fh-kill", "kind": "kill_task", "body": {"task_id": task}},
        }
    )
    (answer,) = loop.hub("command_response")
    assert answer == {"request_id": "fh-kill", "success": True}
    assert loop.status(task) == "killed"
    assert "killed" in loop.master.tasks[task].state()
    assert [a.actionType for m in loop.instant_actions() for a in m.actions] == ["cancelOrder"]
