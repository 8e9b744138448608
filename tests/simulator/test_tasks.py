"""Tasks: assignment, phases, status transitions and logs as RMF's task API renders them."""

from __future__ import annotations

from typing import Any

import pytest

from fleetcore.contract.ingest import IngestType
from simulator import CommandRejected, SimConfig, Simulation

from .conftest import Frames, step_until

REQUESTS = {
    "patrol": {"places": ["pantry", "room_201"], "rounds": 2},
    "delivery": {
        "pickup": {"place": "pantry", "handler": "pantry_dispenser", "payload": []},
        "dropoff": {"place": "lab", "handler": "lab_ingestor", "payload": []},
    },
    "clean": {"zone": "hall_L2"},
}
PHASE_COUNTS = {"patrol": 4, "delivery": 2, "clean": 2}


def states_of(frames: Frames, task_id: str) -> list[dict[str, Any]]:
    return [d for k, d in frames if k is IngestType.TASK_STATE and d["booking"]["id"] == task_id]


def logs_of(frames: Frames, task_id: str) -> list[dict[str, Any]]:
    return [d for k, d in frames if k is IngestType.TASK_LOG and d["task_id"] == task_id]


def seqs_per_log(updates: list[dict[str, Any]]) -> dict[tuple[str, ...], list[int]]:
    """Every log's seq numbers, in the order the updates carried them."""
    seqs: dict[tuple[str, ...], list[int]] = {}
    for update in updates:
        for entry in update.get("log", []):
            seqs.setdefault(("task",), []).append(entry["seq"])
        for phase, body in update.get("phases", {}).items():
            for entry in body.get("log", []):
                seqs.setdefault((phase,), []).append(entry["seq"])
            for event, entries in body.get("events", {}).items():
                seqs.setdefault((phase, event), []).extend(e["seq"] for e in entries)
    return seqs


@pytest.mark.parametrize("category", list(REQUESTS))
def test_task_goes_queued_underway_completed_with_every_phase(
    sim: Simulation, category: str
) -> None:
    frames: Frames = []
    state = sim.dispatch(
        {
            "category": category,
            "description": REQUESTS[category],
            "labels": ["demo"],
            "requester": "alice",
        }
    )
    task_id = state["booking"]["id"]
    assert state["status"] == "queued"
    assert state["booking"]["requester"] == "alice" and state["booking"]["labels"] == ["demo"]
    assert state["estimate_millis"] > 0
    frames += sim.drain()
    step_until(sim, lambda: sim.tasks[task_id].terminal, frames=frames)

    states = states_of(frames, task_id)
    statuses = [s["status"] for s in states]
    assert statuses[0] == "queued" and "underway" in statuses and statuses[-1] == "completed"
    final = states[-1]
    assert len(final["phases"]) == PHASE_COUNTS[category]
    assert final["completed"] == [int(p) for p in final["phases"]]
    assert all(
        event["status"] == "completed"
        for phase in final["phases"].values()
        for event in phase["events"].values()
    )
    actives = [s["active"] for s in states if "active" in s]
    assert actives == sorted(actives) and set(actives) == {int(p) for p in final["phases"]}


def test_log_updates_carry_only_new_entries_with_increasing_seq(sim: Simulation) -> None:
    frames: Frames = []
    task_id = sim.dispatch({"category": "delivery", "description": REQUESTS["delivery"]})[
        "booking"
    ]["id"]
    step_until(sim, lambda: sim.tasks[task_id].terminal, frames=frames)
    updates = logs_of(frames, task_id)
    assert len(updates) >= 4
    for seqs in seqs_per_log(updates).values():
        assert seqs == list(range(len(seqs)))
    texts = [e["text"] for u in updates for e in u.get("log", [])]
    assert texts[0].startswith("Beginning task") and texts[-1] == "Task completed"


def test_each_phase_transition_sends_state_and_log(sim: Simulation) -> None:
    frames: Frames = []
    task_id = sim.dispatch({"category": "clean", "description": REQUESTS["clean"]})["booking"]["id"]
    step_until(sim, lambda: sim.tasks[task_id].terminal, frames=frames, dt=0.25)
    mine = [
        (k, d) for k, d in frames if d.get("task_id", d.get("booking", {}).get("id")) == task_id
    ]
    begun = [
        i
        for i, (k, d) in enumerate(mine)
        if k is IngestType.TASK_LOG
        for body in d.get("phases", {}).values()
        if any(e["text"] == "Beginning phase" for e in body.get("log", []))
    ]
    assert len(begun) == 2
    for i in begun:
        assert mine[i - 1][0] is IngestType.TASK_STATE


def test_task_goes_to_the_nearest_idle_robot_of_its_fleet(sim: Simulation) -> None:
    state = sim.dispatch(
        {"category": "patrol", "description": {"places": ["room_201"]}, "fleet_name": "tinyRobot"}
    )
    robots = list(sim.fleets["tinyRobot"].values())
    nearest = min(robots, key=lambda r: sim.navigator.distance(r.vertex, "room_201"))
    assert state["assigned_to"] == {"group": "tinyRobot", "name": nearest.name}
    assert nearest.task_id == state["booking"]["id"] and nearest.status == "working"


def test_task_waits_queued_until_a_robot_is_free() -> None:
    sim = Simulation(SimConfig(robots=1, fleets=1, auto_tasks_s=0))
    first = sim.dispatch({"category": "patrol", "description": {"places": ["lobby"]}})
    second = sim.dispatch({"category": "patrol", "description": {"places": ["pantry"]}})
    assert "assigned_to" not in second and second["dispatch"]["status"] == "queued"
    step_until(sim, lambda: sim.tasks[first["booking"]["id"]].terminal)
    sim.step(0.5)
    assert sim.tasks[second["booking"]["id"]].robot == "tinyRobot1"


def test_cancel_mid_task_gives_canceled_and_frees_the_robot(sim: Simulation) -> None:
    frames: Frames = []
    task_id = sim.dispatch({"category": "patrol", "description": REQUESTS["patrol"]})["booking"][
        "id"
    ]
    step_until(sim, lambda: sim.tasks[task_id].status == "underway", frames=frames)
    sim.step(3.0)
    robot = sim.robot(sim.tasks[task_id].fleet, sim.tasks[task_id].robot)
    state = sim.cancel(task_id, labels=["by=operator"])
    frames += sim.drain()
    assert state["status"] == "canceled"
    assert state["cancellation"]["labels"] == ["by=operator"]
    assert "unix_millis_finish_time" in state
    assert states_of(frames, task_id)[-1]["status"] == "canceled"
    log_texts = [e["text"] for u in logs_of(frames, task_id) for e in u.get("log", [])]
    assert log_texts[-1] == "Task canceled by request"
    assert robot.task_id == "" and robot.status == "idle" and not robot.route
    where = (robot.x, robot.y)
    sim.step(5.0)
    assert (robot.x, robot.y) == where


def test_kill_queued_task_gives_killed() -> None:
    sim = Simulation(SimConfig(robots=1, fleets=1, auto_tasks_s=0))
    sim.dispatch({"category": "patrol", "description": {"places": ["lobby"]}})
    queued = sim.dispatch({"category": "clean", "description": {"zone": "lobby"}})
    state = sim.kill(queued["booking"]["id"])
    assert state["status"] == "killed" and "killed" in state
    assert state["dispatch"]["status"] == "canceled_in_flight"


def test_cancel_of_a_finished_or_unknown_task_is_refused(sim: Simulation) -> None:
    task_id = sim.dispatch({"category": "patrol", "description": {"places": ["lobby"]}})["booking"][
        "id"
    ]
    step_until(sim, lambda: sim.tasks[task_id].terminal)
    with pytest.raises(CommandRejected, match="already completed"):
        sim.cancel(task_id)
    with pytest.raises(CommandRejected, match="no task"):
        sim.cancel("nope")


def test_robot_fault_fails_its_task_with_an_error_log(sim: Simulation) -> None:
    task_id = sim.dispatch({"category": "patrol", "description": REQUESTS["patrol"]})["booking"][
        "id"
    ]
    sim.step(1.0)
    task = sim.tasks[task_id]
    sim.inject_fault(task.fleet, task.robot, "bumper pressed")
    frames = sim.drain()
    assert states_of(frames, task_id)[-1]["status"] == "failed"
    robot = sim.robot(task.fleet, task.robot)
    assert robot.status == "error" and robot.issues[0]["detail"] == "bumper pressed"
    errors = [e for u in logs_of(frames, task_id) for e in u.get("log", []) if e["tier"] == "error"]
    assert errors
    sim.clear_fault(task.fleet, task.robot)
    assert robot.status == "idle" and robot.issues == []


def test_failed_hand_over_fails_a_delivery() -> None:
    sim = Simulation(SimConfig(robots=2, auto_tasks_s=0, task_failure_probability=1.0))
    task_id = sim.dispatch({"category": "delivery", "description": REQUESTS["delivery"]})[
        "booking"
    ]["id"]
    step_until(sim, lambda: sim.tasks[task_id].terminal)
    task = sim.tasks[task_id]
    assert task.status == "failed" and task.active == 0


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        ({"category": "fly", "description": {}}, "category"),
        ({"category": "patrol", "description": {"places": ["mars"]}}, "mars"),
        ({"category": "clean", "description": {"zone": "lobby"}, "fleet_name": "x"}, "no fleet"),
        (
            {
                "category": "delivery",
                "description": {"pickup": {"place": "lobby"}, "dropoff": {"place": "lab"}},
            },
            "dispenser",
        ),
    ],
    ids=["unknown-category", "unknown-place", "unknown-fleet", "pickup-without-dispenser"],
)
def test_unusable_request_is_refused_with_a_reason(
    sim: Simulation, request_: dict[str, Any], reason: str
) -> None:
    with pytest.raises(CommandRejected, match=reason):
        sim.dispatch(request_)
    assert not sim.tasks


def test_dispatch_accepts_rmf_dispatch_task_request_and_given_id(sim: Simulation) -> None:
    state = sim.dispatch(
        {
            "type": "dispatch_task_request",
            "request": {"category": "clean", "description": {"zone": "lobby"}},
        },
        "clean-42",
    )
    assert state["booking"]["id"] == "clean-42"
    with pytest.raises(CommandRejected, match="already exists"):
        sim.dispatch({"category": "clean", "description": {"zone": "lobby"}}, "clean-42")


def test_robot_task_goes_to_the_named_robot(sim: Simulation) -> None:
    state = sim.dispatch(
        {"category": "patrol", "description": {"places": ["lab"]}, "fleet_name": "deliveryRobot"},
        robot="deliveryRobot2",
    )
    assert state["assigned_to"] == {"group": "deliveryRobot", "name": "deliveryRobot2"}


def test_decommissioned_robot_gets_no_task_until_recommissioned() -> None:
    sim = Simulation(SimConfig(robots=1, fleets=1, auto_tasks_s=0))
    sim.commission("tinyRobot", "tinyRobot1", False)
    state = sim.dispatch({"category": "patrol", "description": {"places": ["lobby"]}})
    sim.step(1.0)
    assert sim.tasks[state["booking"]["id"]].status == "queued"
    commission = sim.fleet_states()[0]["robots"]["tinyRobot1"]["commission"]
    assert commission["dispatch_tasks"] is False
    sim.commission("tinyRobot", "tinyRobot1", True)
    sim.step(1.0)
    assert sim.tasks[state["booking"]["id"]].status == "underway"


def test_stopped_robot_is_absent_from_fleet_states_and_frozen(sim: Simulation) -> None:
    task_id = sim.dispatch(
        {"category": "patrol", "description": {"places": ["lab"]}, "fleet_name": "tinyRobot"}
    )["booking"]["id"]
    sim.step(2.0)
    robot = sim.robot("tinyRobot", sim.tasks[task_id].robot)
    sim.set_robot_stopped("tinyRobot", robot.name, True)
    where = (robot.x, robot.y)
    sim.step(10.0)
    fleet = next(f for f in sim.fleet_states() if f["name"] == "tinyRobot")
    assert robot.name not in fleet["robots"] and fleet["robots"]
    assert (robot.x, robot.y) == where and sim.tasks[task_id].status == "underway"
    sim.set_robot_stopped("tinyRobot", robot.name, False)
    sim.step(1.0)
    fleet = next(f for f in sim.fleet_states() if f["name"] == "tinyRobot")
    assert robot.name in fleet["robots"] and (robot.x, robot.y) != where


def test_a_task_dispatched_again_to_the_fleet_never_goes_to_its_stopped_robot(
    sim: Simulation,
) -> None:
    request = {"category": "patrol", "description": {"places": ["lab"]}, "fleet_name": "tinyRobot"}
    first = sim.dispatch(request)
    sim.step(1.0)
    stopped = first["assigned_to"]["name"]
    sim.set_robot_stopped("tinyRobot", stopped, True)
    sim.cancel(first["booking"]["id"])
    again = sim.dispatch(request)
    assert again["assigned_to"]["name"] != stopped
    step_until(sim, lambda: sim.tasks[again["booking"]["id"]].status == "completed")
    assert not sim.robot("tinyRobot", stopped).task_id


def test_a_task_for_a_fleet_whose_robots_are_all_stopped_stays_queued(sim: Simulation) -> None:
    for robot in sim.fleets["tinyRobot"]:
        sim.set_robot_stopped("tinyRobot", robot, True)
    request = {"category": "patrol", "description": {"places": ["lab"]}, "fleet_name": "tinyRobot"}
    task_id = sim.dispatch(request)["booking"]["id"]
    sim.step(60.0)
    assert sim.tasks[task_id].status == "queued" and not sim.tasks[task_id].robot


def test_commands_on_unknown_robots_are_refused(sim: Simulation) -> None:
    with pytest.raises(CommandRejected, match="no robot"):
        sim.set_robot_stopped("tinyRobot", "ghost", True)


def test_auto_tasks_start_at_once_then_follow_the_timer() -> None:
    sim = Simulation(SimConfig(robots=4, auto_tasks_s=10))
    sim.step(0.5)
    (first,) = sim.tasks.values()
    assert first.booking["labels"] == ["auto"] and first.booking["requester"] == "simulator"
    sim.step(9.0)
    assert len(sim.tasks) == 1
    sim.step(1.0)
    assert len(sim.tasks) == 2
