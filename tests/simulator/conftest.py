"""Simulations small enough to step through hours of simulated time in milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fleetcore.contract.ingest import IngestType
from simulator import SimConfig, Simulation

Frames = list[tuple[IngestType, dict[str, Any]]]


@pytest.fixture
def sim() -> Simulation:
    return Simulation(SimConfig(robots=4, fleets=2, auto_tasks_s=0))


def step_until(
    sim: Simulation,
    done: Callable[[], bool],
    *,
    max_s: float = 3600.0,
    dt: float = 0.5,
    frames: Frames | None = None,
) -> float:
    """Step until ``done()``; return the simulated seconds it took. Collect drained frames."""
    elapsed = 0.0
    while not done():
        if elapsed >= max_s:
            raise AssertionError(f"not done after {max_s} simulated seconds")
        sim.step(dt)
        elapsed += dt
        drained = sim.drain()
        if frames is not None:
            frames.extend(drained)
    return elapsed
