"""Traffic control with vehicles driving: each is only ever on what it holds, on a busy grid.

The reservation table's own property test (``test_traffic.py``) moves
robots by hand; here simulated vehicles drive a grid under the master
control and a steady stream of patrols, and after every 0.1 s step each
vehicle's own position (the node it stands on, or the lane it drives) must
be held by it, and by it alone. That covers what the master control adds:
freeing the node behind a vehicle once its position shows it clear of it,
while it still drives the lane after it, and orders canceled at random
moments, their vehicles stopping where they are (on a lane, often).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from simulator.vehicles import VehicleProfile
from tests.vda5050.loopback import TOPICS, Loopback, occupies, patrol
from tests.vda5050.test_deadlock import nav_graph, safe
from vda5050.master import MasterConfig
from vda5050.traffic import node_key

SIDE = 5


def grid_loop(tmp_path: Path, seed: int) -> Loopback:
    places = {f"g{x}_{y}": (5.0 * x, 5.0 * y) for x in range(SIDE) for y in range(SIDE)}
    lanes = [
        f"g{x}_{y}-g{nx}_{ny}"
        for x in range(SIDE)
        for y in range(SIDE)
        for nx, ny in ((x + 1, y), (x, y + 1))
        if nx < SIDE and ny < SIDE
    ]
    starts = random.Random(seed).sample(sorted(places), 7)
    return Loopback(
        tmp_path / "j.sqlite3",
        config=MasterConfig(topics=TOPICS, vehicles={}, default_fleet="vda"),
        nav_graph=nav_graph(places, lanes),
        starts=starts,
        profile=VehicleProfile(speed_mps=2.0, action_s=1.0, drain_per_m=0.0, idle_drain_per_s=0.0),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_vehicle_is_only_ever_where_it_alone_holds(tmp_path: Path, seed: int) -> None:
    """One step in fifty cancels a random underway task, wherever its vehicle is."""
    loop = grid_loop(tmp_path, seed)
    rng = random.Random(seed)
    places = sorted(loop.graph.vertices)
    master = loop.master
    taken_behind = 0
    completed = 0
    stopped_on_lanes = 0
    for _ in range(600):
        queued = sum(1 for t in master.tasks.values() if t.status == "queued")
        for _ in range(3 - queued):
            loop.dispatch(patrol(rng.choice(places)))
        underway = sorted(
            (t for t in master.tasks.values() if t.status == "underway"), key=lambda t: t.robot
        )
        if underway and rng.random() < 0.02:
            task = rng.choice(underway)
            master.cancel(task, "canceled", [])
            stopped_on_lanes += occupies(loop.vehicles[task.robot], loop.graph).startswith("lane")
        loop.run(0.1)
        safe(loop)
        for serial, vehicle in loop.vehicles.items():
            on = occupies(vehicle, loop.graph)
            assert master.traffic.owner.get(on) == f"vda/{serial}", (serial, on)
        for robot, path in master.traffic.paths.items():
            left = node_key(path.nodes[path.passed])
            if path.left and master.traffic.owner.get(left) not in (None, robot):
                taken_behind += 1
        completed = sum(1 for t in master.tasks.values() if t.status == "completed")
    assert completed > 20
    assert stopped_on_lanes > 0, "no order was canceled between two nodes"
    assert taken_behind > 0, "no vehicle took a node while the one that left it drove on"
