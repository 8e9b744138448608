"""The hub's CPU per fleet state, stage by stage: decode, changes (encode), derive, number.

Fleet states of ``--robots`` robots, ``--changed`` of them new in each (the
rest the same JSON as in the last state, as the VDA 5050 master control
sends them), go through what the hub does to each before the database:
:func:`fleetcore.contract.ingest.decode`, :func:`hub.changes.changes_for`,
the deriver and its rows, and the writer's numbering. CPU time
(``time.process_time``) per fleet state, so a loaded machine slows it less
than wall time; compare runs of the same moment (another tree's code with
``PYTHONPATH=<tree>``).

Reproduce:
    .venv/bin/python bench/fleet_state_cpu.py --robots 200 --changed 10   # VDA 5050
    .venv/bin/python bench/fleet_state_cpu.py --robots 50 --changed 50    # an RMF fleet
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import orjson

from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.envelope import StreamPosition
from fleetcore.contract.ingest import decode
from fleetcore.settings import Settings
from hub.changes import changes_for
from hub.derive.config import DeriveConfig
from hub.derive.deriver import Deriver
from hub.derive.publish import change_for, merge
from hub.writer import Writer

WARM_UP = 20
STAGES = ("decode", "changes", "derive", "number")
PERIOD_MS = 25
"""Between fleet states: 40 a second, as the master control sends a 200-robot fleet's."""


def robot(name: str, t_ms: int, x: float) -> dict[str, Any]:
    return {
        "name": name,
        "status": "working",
        "task_id": "task-" + name,
        "unix_millis_time": t_ms,
        "battery": 0.8,
        "location": {"map": "L1", "x": x, "y": 5.0, "yaw": 1.57},
        "issues": [],
    }


def measure(robots: int, changed: int, frames: int) -> dict[str, float]:
    """Microseconds of CPU per fleet state in each stage."""
    deriver = Deriver(DeriveConfig.from_settings(Settings()))
    writer = Writer(InMemoryBus(), StreamPosition(0, 1))
    states = {f"r{i}": robot(f"r{i}", 0, 1.0) for i in range(robots)}
    now = 1_700_000_000_000
    spent = dict.fromkeys(STAGES, 0.0)
    for frame in range(WARM_UP + frames):
        now += PERIOD_MS
        for k in range(changed):
            name = f"r{(frame * changed + k) % robots}"
            states[name] = robot(name, now, 1.0 + frame * 0.1)
        raw = orjson.dumps({"type": "fleet_state_update", "data": {"name": "f", "robots": states}})
        t0 = time.process_time()
        message = decode(raw)
        t1 = time.process_time()
        change = changes_for(message, now)
        t2 = time.process_time()
        merge(change, change_for(deriver.observe(message, now), now))
        t3 = time.process_time()
        writer._number([change])
        t4 = time.process_time()
        if frame >= WARM_UP:
            for stage, cpu in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                spent[stage] += cpu
    return {stage: cpu / frames * 1e6 for stage, cpu in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--robots", type=int, default=200)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--frames", type=int, default=2000)
    args = parser.parse_args()
    spent = measure(args.robots, min(args.changed, args.robots), args.frames)
    stages = ", ".join(f"{stage} {cpu:.0f}" for stage, cpu in spent.items())
    print(
        f"{args.robots} robots, {args.changed} new a state: {sum(spent.values()):.0f} us CPU"
        f" a fleet state ({stages})"
    )


if __name__ == "__main__":
    main()
