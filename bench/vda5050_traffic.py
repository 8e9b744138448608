"""VDA 5050 traffic control under a steady task stream, against a naive baseline in the same run.

N simulated vehicles (``simulator/vehicles``) drive a grid site (``--grid``
vertices a side, 5 m apart, every vertex a place, chargers in two corners)
under the master control, in memory and on a simulated clock (the harness
of ``tests/vda5050/loopback.py``: the same codec and messages as over MQTT,
no broker), while a stream keeps ``--backlog`` patrols to random places
queued for ``--seconds`` simulated seconds. Vehicles drive at 2 m/s and
their batteries do not drain: this measures traffic, not charging. Reported
for each run:

- tasks completed per hour, mean and p95 task time (dispatch to completed);
- conflicts: two vehicles on one node or lane at the same moment (counted
  from the vehicles' own positions each step, once per pair and resource);
- deadlocks by resolution, and vehicle-seconds spent standing at a decision
  point, held back by traffic control;
- the master control's CPU time (its message handling, ticks and flushes).

The baseline is the same master control with every reservation granted
and whole routes released at once (nearest idle vehicle, no traffic
control): its conflicts are collisions it would have caused. Completed
tasks that met a conflict are counted as failed for the baseline's
effective rate.

Reproduce: .venv/bin/python bench/vda5050_traffic.py --vehicles 10 --seconds 1800
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.vehicles import VehicleProfile
from tests.vda5050.loopback import TOPICS, Loopback, patrol
from vda5050.graph import GraphVertex, Lane, NavGraph
from vda5050.master import MasterConfig
from vda5050.orders import ReleasePolicy
from vda5050.traffic import Path as TrafficPath
from vda5050.traffic import Traffic, lane_key, node_key


class Unreserved(Traffic):
    """The baseline: every node and lane granted, whoever holds it."""

    def _blocked(self, robot: str, path: TrafficPath, index: int) -> tuple[str, str, bool] | None:
        return None

    def _take(self, robot: str, resource: str) -> bool:
        return True


def grid(side: int) -> NavGraph:
    vertices = [
        GraphVertex(
            f"p{x}_{y}",
            "L1",
            5.0 * x,
            5.0 * y,
            place=True,
            charger=(x, y) in ((0, 0), (side - 1, side - 1)),
        )
        for x in range(side)
        for y in range(side)
    ]
    lanes: list[Lane] = []
    for x in range(side):
        for y in range(side):
            for nx, ny in ((x + 1, y), (x, y + 1)):
                if nx < side and ny < side:
                    a, b = f"p{x}_{y}", f"p{nx}_{ny}"
                    lanes += [Lane(f"{a}-{b}", a, b, 5.0), Lane(f"{b}-{a}", b, a, 5.0)]
    return NavGraph(vertices, lanes)


def timed(calls: list[float], function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        start = time.process_time()
        try:
            return function(*args)
        finally:
            calls[0] += time.process_time() - start

    return wrapper


def run(args: argparse.Namespace, *, reserved: bool) -> dict[str, float]:
    graph = grid(args.grid)
    rng = random.Random(args.seed)
    starts = rng.sample(sorted(graph.vertices), args.vehicles)
    config = MasterConfig(
        topics=TOPICS,
        vehicles={},
        default_fleet="vda",
        release=ReleasePolicy(release_nodes=args.release if reserved else 10_000, horizon_nodes=20),
    )
    deadlocks = {r: _deadlocks(r) for r in ("reroute", "yield", "move_aside", "unresolved")}
    with tempfile.TemporaryDirectory() as directory:
        loop = Loopback(
            Path(directory) / "j.sqlite3",
            config=config,
            nav_graph=graph,
            starts=starts,
            profile=VehicleProfile(
                speed_mps=2.0, action_s=2.0, drain_per_m=0.0, idle_drain_per_s=0.0
            ),
        )
        master = loop.master
        if not reserved:
            master.traffic = Unreserved()
        cpu = [0.0]
        master.on_mqtt = timed(cpu, master.on_mqtt)  # type: ignore[method-assign]
        master.tick = timed(cpu, master.tick)  # type: ignore[method-assign]
        master.flush = timed(cpu, master.flush)  # type: ignore[method-assign]
        dispatched: dict[str, int] = {}
        conflicts: set[tuple[str, str, str]] = set()
        conflicted: set[str] = set()
        held_back = 0.0
        places = sorted(graph.vertices)
        for _ in range(round(args.seconds / 0.5)):
            queued = sum(1 for t in master.tasks.values() if t.status == "queued")
            for _ in range(max(0, args.backlog - queued)):
                task = loop.dispatch(patrol(rng.choice(places)))
                dispatched[task] = loop.now_ms
            loop.run(0.5)
            held_back += 0.5 * sum(
                1 for key in master.traffic.waits if not loop.vehicles[key.split("/")[1]].driving
            )
            on: dict[str, list[str]] = {}
            for serial, vehicle in loop.vehicles.items():
                for resource in _occupies(vehicle):
                    on.setdefault(resource, []).append(serial)
            for resource, serials in on.items():
                for a in serials:
                    for b in serials:
                        if a < b:
                            conflicts.add((resource, a, b))
                            conflicted |= {master.vehicles[_id(loop, s)].task_id for s in (a, b)}
        done = [t for t in master.tasks.values() if t.status == "completed" and t.id in dispatched]
        times = sorted((t.finish_ms or 0) - dispatched[t.id] for t in done)
        clean = [t for t in done if t.id not in conflicted]
    hours = args.seconds / 3600
    return {
        "tasks_per_hour": len(done) / hours,
        "tasks_per_hour_without_conflicts": len(clean) / hours,
        "mean_task_s": statistics.fmean(times) / 1000 if times else 0.0,
        "p95_task_s": times[int(0.95 * (len(times) - 1))] / 1000 if times else 0.0,
        "conflicts": float(len(conflicts)),
        "held_back_vehicle_s": held_back,
        "master_cpu_s": cpu[0],
        **{f"deadlocks_{r}": _deadlocks(r) - before for r, before in deadlocks.items()},
    }


def _id(loop: Loopback, serial: str) -> Any:
    return next(v for v in loop.master.vehicles if v.serial_number == serial)


def _occupies(vehicle: Any) -> list[str]:
    """The node it stands on, or the lane it drives (between its last node and the next)."""
    if vehicle.driving and vehicle.nodes:
        return [lane_key(vehicle.last_node_id, vehicle.nodes[0].nodeId)]
    return [node_key(vehicle.last_node_id)]


def _deadlocks(resolution: str) -> float:
    value = REGISTRY.get_sample_value(
        "fleethub_vda5050_deadlocks_total", {"resolution": resolution}
    )
    return value or 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=10)
    parser.add_argument("--grid", type=int, default=8, help="vertices a side of the square grid")
    parser.add_argument("--seconds", type=float, default=1800.0, help="simulated seconds")
    parser.add_argument("--backlog", type=int, default=0, help="queued tasks kept (0: vehicles/2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--release", type=int, default=4, help="nodes released ahead (base)")
    args = parser.parse_args()
    logging.getLogger("fleethub.vda5050").setLevel(logging.CRITICAL)
    args.backlog = args.backlog or max(1, args.vehicles // 2)
    print(
        f"{args.vehicles} vehicles on a {args.grid}x{args.grid} grid, {args.seconds:.0f} simulated s,"
        f" {args.backlog} tasks kept queued, base {args.release} nodes"
    )
    for name, reserved in (("traffic control", True), ("naive baseline", False)):
        wall = time.perf_counter()
        figures = run(args, reserved=reserved)
        print(f"{name} ({time.perf_counter() - wall:.0f} s wall):")
        for key, value in figures.items():
            print(f"  {key:34} {value:10.1f}")


if __name__ == "__main__":
    main()
