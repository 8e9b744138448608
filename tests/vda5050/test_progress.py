"""Progress on the demo's map: ``fleethub up``'s three vehicles and task mix all finish.

The demo's L1 has dead-end spurs (pantry, the rooms, parking, chargers) off
one corridor. A vehicle that ends its task in a spur stands in it; the one
that drove up to the spur's entrance for it holds its only way out. These
tests run ``up``'s vehicles (1 m/s, 3 s actions, on the demo's spawn
points) in-process and count how each wait was resolved, not how long it
took.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.vehicles import VehicleProfile
from tests.vda5050.loopback import Loopback, delivery, patrol
from tests.vda5050.test_deadlock import safe

UP_VEHICLE = VehicleProfile(speed_mps=1.0, action_s=3.0)
"""``fleethub up``'s simulated vehicles (``vda5050_sim_speed_mps``, ``vda5050_sim_action_s``)."""
MOVES_ASIDE = re.compile(r"Moves aside to \[place:[^\]]+\] for \[robot:([^\]]+)\]")


@dataclass
class Resolutions:
    """Every time a robot gave way to another, with how far the other had got by then."""

    loop: Loopback
    given: list[tuple[str, str, tuple[str, int, str]]] = field(default_factory=list)
    _seen_give_ways: set[int] = field(default_factory=set)
    _log_read: int = 0

    def progress(self, robot: str) -> tuple[str, int, str]:
        """Where ``robot`` is: its task, the nodes it passed on that task's order, its node."""
        vehicle = self.loop.vehicles[robot]
        master = self.loop.master.vehicle_of("vda", robot)
        assert master is not None
        task = self.loop.master.tasks.get(master.task_id)
        passed = task.order.traversed if task is not None and task.order is not None else -1
        return master.task_id, passed, vehicle.last_node_id

    def observe(self) -> None:
        for key, path in self.loop.master.traffic.paths.items():
            give_way = path.give_way
            if give_way is not None and id(give_way) not in self._seen_give_ways:
                self._seen_give_ways.add(id(give_way))
                self._note(key.partition("/")[2], give_way.to.partition("/")[2])
        updates = self.loop.hub("fleet_log_update")
        for update in updates[self._log_read :]:
            for robot, entries in update.get("robots", {}).items():
                for entry in entries:
                    moved = MOVES_ASIDE.search(entry["text"])
                    if moved:
                        self._note(robot, moved.group(1))
        self._log_read = len(updates)

    def _note(self, yielding: str, to: str) -> None:
        self.given.append((yielding, to, self.progress(to)))

    def repeated_without_progress(self) -> list[Any]:
        """Yields of one robot to the same other, back to back, while the other did not move on."""
        last: dict[str, tuple[str, tuple[str, int, str]]] = {}
        repeated = []
        for yielding, to, progress in self.given:
            if last.get(yielding) == (to, progress):
                repeated.append((yielding, to, progress))
            last[yielding] = (to, progress)
        return repeated


def run_demo_mix(tmp_path: Path, order: list[str]) -> tuple[Loopback, Resolutions, list[str]]:
    """``up``'s two patrols and a delivery, dispatched naming no robot in ``order``, run to the end."""
    loop = Loopback(tmp_path / "j.sqlite3", vehicles=3, profile=UP_VEHICLE)
    requests = {
        "short patrol": patrol("lobby", "room_102", rounds=3),
        "long patrol": patrol("lobby", "room_101", rounds=5),
        "delivery": delivery("pantry", "room_101"),
    }
    tasks = [loop.dispatch(requests[name]) for name in order]
    resolutions = Resolutions(loop)

    def finished() -> bool:
        safe(loop)
        resolutions.observe()
        return all(loop.status(task) in ("completed", "failed") for task in tasks)

    loop.until(finished, seconds=1800.0)
    return loop, resolutions, tasks


def test_a_vehicle_parked_in_a_dead_end_gets_out_past_the_one_that_waits_for_it(
    tmp_path: Path,
) -> None:
    # The delivery ends in room_101; the long patrol's vehicle waits at the spur's entrance for it.
    loop, resolutions, tasks = run_demo_mix(tmp_path, ["delivery", "long patrol", "short patrol"])
    assert [loop.status(task) for task in tasks] == ["completed"] * 3
    assert resolutions.given
    assert resolutions.repeated_without_progress() == []


def test_every_order_of_the_demo_mix_completes_without_yielding_twice_for_nothing(
    tmp_path: Path,
) -> None:
    for order in (
        ["short patrol", "long patrol", "delivery"],
        ["short patrol", "delivery", "long patrol"],
        ["long patrol", "delivery", "short patrol"],
    ):
        loop, resolutions, tasks = run_demo_mix(tmp_path / "-".join(order), order)
        assert [loop.status(task) for task in tasks] == ["completed"] * 3, order
        assert resolutions.repeated_without_progress() == [], order
