"""Recorded derivation input and its replay.

The input file is what a Deriver saw: one JSON line per accepted ingest
message or tick, with the hub time. ``python -m tests.derive.replay``
re-records it from a seeded simulation (a robot faults, another stops
mid-task) and rewrites the expected output; do that only when a change to
the derivations is intended, and review the diff of the expected file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from fleetcore.contract.ingest import MODELS, IngestMessage, IngestType
from hub.derive import Deriver
from hub.derive.base import Output
from tests.derive.inputs import CONFIG

DATA = Path(__file__).parent / "data"
INPUT = DATA / "replay_input.jsonl"
EXPECTED = DATA / "replay_expected.jsonl"
REPLAY_CONFIG = dataclasses.replace(CONFIG, reassign=True)
RECORDED = (IngestType.FLEET_STATE, IngestType.TASK_STATE)


def replay(lines: Iterator[bytes]) -> list[dict[str, Any]]:
    """Feed the recorded input to a fresh Deriver; everything it derived, as JSON values."""
    deriver = Deriver(REPLAY_CONFIG)
    derived: list[dict[str, Any]] = []
    for line in lines:
        item = orjson.loads(line)
        if item["type"] == "tick":
            out = deriver.tick(item["at_ms"])
        else:
            kind = IngestType(item["type"])
            message = IngestMessage(kind, MODELS[kind].model_validate(item["data"]))
            out = deriver.observe(message, item["at_ms"])
        derived += _as_json(out)
    return derived


def _as_json(out: Output) -> list[dict[str, Any]]:
    return (
        [{"event": e.to_json()} for e in out.events]
        + [{"open": {"id": a.alert_id, "tier": a.tier, "title": a.title}} for a in out.opened]
        + [{"close": c.alert_id} for c in out.closed]
        + [{"command": c.to_json()} for c in out.commands]
    )


def record() -> None:
    """Re-record the input from a seeded simulation and rewrite the expected output."""
    from simulator.simulation import SimConfig, Simulation

    sim = Simulation(SimConfig(robots=3, fleets=1, seed=3, auto_tasks_s=20.0))
    fleet = next(iter(sim.fleets))
    lines: list[bytes] = []
    for step in range(240):  # 120 s at 2 Hz
        sim.step(0.5)
        if step == 60:
            sim.inject_fault(fleet, f"{fleet}2", "lidar blocked")
        if step == 100:
            sim.clear_fault(fleet, f"{fleet}2")
        if step == 120:
            busy = [r for r in sim.robots() if r.task_id] or list(sim.robots())
            sim.set_robot_stopped(fleet, busy[0].name, True)
        if step == 200:
            sim.set_robot_stopped(fleet, busy[0].name, False)
        at = sim.now_ms
        for kind, data in sim.drain():
            if kind in RECORDED:
                lines.append(orjson.dumps({"at_ms": at, "type": kind.value, "data": data}))
        for state in sim.fleet_states():
            lines.append(
                orjson.dumps({"at_ms": at, "type": IngestType.FLEET_STATE.value, "data": state})
            )
        lines.append(orjson.dumps({"at_ms": at, "type": "tick"}))
    DATA.mkdir(exist_ok=True)
    INPUT.write_bytes(b"\n".join(lines) + b"\n")
    derived = replay(iter(lines))
    EXPECTED.write_bytes(
        b"\n".join(orjson.dumps(d, option=orjson.OPT_SORT_KEYS) for d in derived) + b"\n"
    )


if __name__ == "__main__":
    record()
