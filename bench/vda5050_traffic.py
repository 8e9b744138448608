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
  point, held back by traffic control, by what it waits behind: a vehicle
  that moves, one that itself waits, a parked one (no order), or a node it
  gives way on after a deadlock (which may be free by then);
- the master control's CPU time (its message handling, ticks and flushes).

The baseline is the same master control with every reservation granted
and whole routes released at once (nearest idle vehicle, no traffic
control): its conflicts are collisions it would have caused. Completed
tasks that met a conflict are counted as failed for the baseline's
effective rate.

With ``--latency-seconds`` (default 60; 0 skips) each fleet size also runs
``bench/vda5050_latency.py``: the same number of vehicles publishing VDA 5050
states at 2 Hz over a real broker (a private Mosquitto) to ``fleethub
vda5050`` as its own process and the embedded hub, for that many seconds of
wall time, reporting state → room latency p50/p99, the raw MQTT round trip on
the same broker (the floor), and the master control's CPU.

The grid grows with the fleet (about 6 vertices a vehicle) so the density of
vehicles stays that of 10 on 8x8.

Reproduce (the figures in the README):
  .venv/bin/python bench/vda5050_traffic.py --vehicles 10 50 200 --seconds 600 --latency-seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
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

from vda5050_latency import measure

from simulator.vehicles import VehicleProfile
from tests.vda5050.loopback import TOPICS, Loopback, patrol
from vda5050.graph import GraphVertex, Lane, NavGraph
from vda5050.master import MasterConfig
from vda5050.orders import ReleasePolicy
from vda5050.traffic import Path as TrafficPath
from vda5050.traffic import Traffic, Wait


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
        detour_slack=args.detour_slack,
        held_toll_m=args.held_toll,
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
        behind = dict.fromkeys(BEHIND, 0.0)
        places = sorted(graph.vertices)
        for _ in range(round(args.seconds / 0.5)):
            queued = sum(1 for t in master.tasks.values() if t.status == "queued")
            for _ in range(max(0, args.backlog - queued)):
                task = loop.dispatch(patrol(rng.choice(places)))
                dispatched[task] = loop.now_ms
            loop.run(0.5)
            for key, wait in master.traffic.waits.items():
                if not loop.vehicles[key.split("/")[1]].driving:
                    held_back += 0.5
                    behind[_behind(master.traffic, wait)] += 0.5
            for resource, serials in loop.occupancy().items():
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
        **{f"  behind_{what}": seconds for what, seconds in behind.items()},
        "master_cpu_s": cpu[0],
        **{f"deadlocks_{r}": _deadlocks(r) - before for r, before in deadlocks.items()},
    }


BEHIND = ("moving", "waiting", "parked", "giving_way")
"""What a held-back vehicle waits behind: the holder of what it needs and what that one does."""


def _behind(traffic: Traffic, wait: Wait) -> str:
    if traffic.owner.get(wait.resource) != wait.holder:
        return "giving_way"  # the resource is free, but it gives way to the holder
    if wait.holder not in traffic.paths:
        return "parked"
    return "waiting" if wait.holder in traffic.waits else "moving"


def _id(loop: Loopback, serial: str) -> Any:
    return next(v for v in loop.master.vehicles if v.serial_number == serial)


def _deadlocks(resolution: str) -> float:
    value = REGISTRY.get_sample_value(
        "fleethub_vda5050_deadlocks_total", {"resolution": resolution}
    )
    return value or 0.0


def side_for(vehicles: int) -> int:
    """A square grid with about 6.4 vertices a vehicle: 8x8 for 10."""
    return max(8, round(math.sqrt(6.4 * vehicles)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--grid", type=int, default=0, help="vertices a side (0: by the fleet)")
    parser.add_argument("--seconds", type=float, default=600.0, help="simulated seconds")
    parser.add_argument("--backlog", type=int, default=0, help="queued tasks kept (0: vehicles/2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--release", type=int, default=4, help="nodes released ahead (base)")
    parser.add_argument(
        "--detour-slack", type=float, default=1.5, help="FLEETHUB_VDA5050_DETOUR_SLACK"
    )
    parser.add_argument("--held-toll", type=float, default=2.0, help="FLEETHUB_VDA5050_HELD_TOLL_M")
    parser.add_argument(
        "--latency-seconds", type=float, default=60.0, help="wall seconds over MQTT (0: skip)"
    )
    args = parser.parse_args()
    logging.getLogger("fleethub.vda5050").setLevel(logging.CRITICAL)
    for vehicles in args.vehicles:
        one = argparse.Namespace(**vars(args))
        one.vehicles = vehicles
        one.grid = args.grid or side_for(vehicles)
        one.backlog = args.backlog or max(1, vehicles // 2)
        print(
            f"== {vehicles} vehicles on a {one.grid}x{one.grid} grid, {args.seconds:.0f} simulated"
            f" s, {one.backlog} tasks kept queued, base {args.release} nodes"
        )
        figures = {}
        for name, reserved in (("traffic control", True), ("naive baseline", False)):
            wall = time.perf_counter()
            figures[name] = run(one, reserved=reserved)
            print(f"  {name}: {time.perf_counter() - wall:.0f} s wall")
        ours, naive = figures["traffic control"], figures["naive baseline"]
        print(f"  {'':34} {'traffic control':>16} {'naive baseline':>16} {'ratio':>8}")
        for key in ours:
            ratio = ours[key] / naive[key] if naive[key] else math.nan
            print(f"  {key:34} {ours[key]:16.1f} {naive[key]:16.1f} {ratio:8.2f}")
        if args.latency_seconds > 0:
            latency = asyncio.run(
                measure(
                    argparse.Namespace(vehicles=vehicles, rate=2.0, seconds=args.latency_seconds)
                )
            )
            print(f"  over MQTT at 2 Hz for {args.latency_seconds:.0f} s:")
            for key, value in latency.items():
                print(f"  {key:34} {value:16.1f}")


if __name__ == "__main__":
    main()
