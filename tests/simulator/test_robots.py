"""Robots drive lanes with their heading along the motion; batteries drain and recharge."""

from __future__ import annotations

import itertools
import math

from simulator import SimConfig, Simulation
from simulator.robots import RobotProfile

from .conftest import Frames, step_until


def test_robot_moves_along_the_lane_with_yaw_along_motion(sim: Simulation) -> None:
    sim.dispatch({"category": "patrol", "description": {"places": ["room_102"]}})
    robot = next(r for r in sim.robots() if r.task_id)
    poses = []
    for _ in range(20):
        sim.step(0.5)
        poses.append((robot.x, robot.y, robot.yaw))
    moves = [(a, b) for a, b in itertools.pairwise(poses) if a[:2] != b[:2]]
    assert moves
    for (x0, y0, _), (x1, y1, yaw) in moves:
        speed = math.dist((x0, y0), (x1, y1)) / 0.5
        assert 0.0 < speed <= robot.profile.speed_mps + 1e-9
        if math.dist((x0, y0), (x1, y1)) > 0.3:
            heading = math.atan2(y1 - y0, x1 - x0)
            assert abs(math.remainder(heading - yaw, math.tau)) < 0.3


def test_robot_positions_stay_on_lanes(sim: Simulation) -> None:
    site = sim.site
    segments = [(site.vertices[a], site.vertices[b]) for a, b in site.lanes]
    sim.dispatch({"category": "patrol", "description": {"places": ["room_201", "lobby"]}})
    robot = next(r for r in sim.robots() if r.task_id)
    for _ in range(400):
        sim.step(0.5)
        if (robot.x, robot.y) in {(v.x, v.y) for v in site.vertices.values()}:
            continue
        assert any(
            a.level == robot.level
            and abs(
                math.dist((a.x, a.y), (robot.x, robot.y))
                + math.dist((robot.x, robot.y), (b.x, b.y))
                - math.dist((a.x, a.y), (b.x, b.y))
            )
            < 1e-6
            for a, b in segments
        )


def test_battery_drains_while_driving_and_robot_goes_to_charge() -> None:
    thirsty = RobotProfile(drain_per_m=0.01, recharge_below=0.3, task_reserve=0.0)
    sim = Simulation(SimConfig(robots=1, fleets=1, auto_tasks_s=0, profile=thirsty))
    robot = next(iter(sim.robots()))
    robot.battery = 0.9
    sim.dispatch({"category": "patrol", "description": {"places": ["room_102", "lobby"]}})
    step_until(sim, lambda: not robot.task_id)
    assert robot.battery < 0.9 - 60 * 0.01
    assert robot.battery < 0.3
    step_until(sim, lambda: robot.status == "charging")
    assert sim.site.vertices[robot.vertex].charger
    low = robot.battery
    step_until(sim, lambda: robot.status == "idle")
    assert robot.battery >= thirsty.charged_at > low


def test_starting_to_charge_is_written_to_the_fleet_log() -> None:
    thirsty = RobotProfile(recharge_below=0.99)
    sim = Simulation(SimConfig(robots=1, fleets=1, auto_tasks_s=0, profile=thirsty))
    robot = next(iter(sim.robots()))
    robot.battery = 0.5
    frames: Frames = []
    step_until(sim, lambda: robot.status == "charging", frames=frames)
    texts = [
        entry["text"]
        for _, data in frames
        if "robots" in data
        for entry in data["robots"][robot.name]
    ]
    assert any(text.startswith("Started charging") for text in texts)
