"""Everything the simulator sends passes the hub's own ingest validator."""

from __future__ import annotations

from collections import Counter

from fleetcore.contract.ingest import IngestType, decode, encode
from simulator import SimConfig, Simulation

from .conftest import Frames, step_until


def test_an_hour_of_frames_validates_through_ingest_decode() -> None:
    sim = Simulation(SimConfig(robots=10, fleets=2, auto_tasks_s=20, task_failure_probability=0.2))
    kinds: Counter[IngestType] = Counter()
    statuses: Counter[str] = Counter()
    frames = list(sim.snapshot())
    for second in range(3600):
        sim.step(1.0)
        frames += sim.drain()
        if second % 30 == 0:
            frames += [(IngestType.FLEET_STATE, s) for s in sim.fleet_states()]
            frames += sim.device_states()
    for kind, data in frames:
        message = decode(encode(kind, data))
        kinds[message.type] += 1
        if kind is IngestType.TASK_STATE:
            statuses[data["status"]] += 1
    # Command responses answer the hub's commands (simulator.commands), not time passing;
    # beacons, RMF's own alerts, delivery alerts and the fire alarm come only from ROS 2
    # (ros_bridge; the simulator's reset of the fire alarm answers a command).
    assert set(kinds) == set(IngestType) - {
        IngestType.COMMAND_RESPONSE,
        IngestType.BEACON_STATE,
        IngestType.ALERT,
        IngestType.ALERT_RESPONSE,
        IngestType.DELIVERY_ALERT,
        IngestType.FIRE_ALARM_TRIGGER,
    }
    assert {"queued", "underway", "completed", "failed"} <= set(statuses)


def test_robot_state_follows_rmf_robot_state(sim: Simulation) -> None:
    (fleet, *_) = sim.fleet_states()
    robot = next(iter(fleet["robots"].values()))
    assert set(robot) >= {"name", "status", "task_id", "unix_millis_time", "location", "battery"}
    assert robot["location"]["map"] in {"L1", "L2"}
    assert robot["unix_millis_time"] == sim.now_ms


def test_lift_states_show_a_ride_between_levels(sim: Simulation) -> None:
    frames: Frames = []
    assert sim.robot("tinyRobot", "tinyRobot1").level == "L1"
    task_id = sim.dispatch(
        {"category": "patrol", "description": {"places": ["kitchen"]}, "fleet_name": "tinyRobot"},
        robot="tinyRobot1",
    )["booking"]["id"]
    step_until(sim, lambda: sim.tasks[task_id].terminal, frames=frames)
    lift = [d for k, d in frames if k is IngestType.LIFT_STATE]
    robot = sim.tasks[task_id].robot
    assert any(s["session_id"].endswith(robot) and s["motion_state"] == 1 for s in lift)
    assert any(s["door_state"] == 2 and s["current_floor"] == "L2" for s in lift)
    log = [
        e["text"]
        for k, d in frames
        if k is IngestType.TASK_LOG
        for p in d.get("phases", {}).values()
        for es in p.get("events", {}).values()
        for e in es
    ]
    assert "Taking [lift:lift_1] to [level:L2]" in log


def test_doors_open_for_a_passing_robot_and_close_after(sim: Simulation) -> None:
    frames: Frames = []
    task_id = sim.dispatch({"category": "patrol", "description": {"places": ["pantry", "lobby"]}})[
        "booking"
    ]["id"]
    step_until(sim, lambda: sim.tasks[task_id].terminal, frames=frames)
    sim.step(5.0)
    frames += sim.drain()
    modes = [
        d["current_mode"]["value"]
        for k, d in frames
        if k is IngestType.DOOR_STATE and d["door_name"] == "pantry_door"
    ]
    assert modes[:2] == [1, 2] and modes[-1] == 0
