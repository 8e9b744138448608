"""The simulator's control endpoint: stopping a robot silences it, starting it brings it back."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from simulator import SimConfig, Simulation
from simulator.control import control_app


def _reported(sim: Simulation, fleet: str) -> set[str]:
    return next(set(s["robots"]) for s in sim.fleet_states() if s["name"] == fleet)


@pytest.fixture
async def control(aiohttp_client: Any) -> tuple[Simulation, TestClient[Any, Any]]:
    sim = Simulation(SimConfig(robots=4, fleets=2))
    return sim, await aiohttp_client(control_app(sim))


async def test_a_stopped_robot_freezes_and_drops_out_of_its_fleets_states(
    control: tuple[Simulation, TestClient[Any, Any]],
) -> None:
    sim, client = control
    resp = await client.post("/robots/tinyRobot/tinyRobot1/stop")
    assert resp.status == 204
    assert sim.robot("tinyRobot", "tinyRobot1").stopped
    assert "tinyRobot1" not in _reported(sim, "tinyRobot")


async def test_a_started_robot_reports_again(
    control: tuple[Simulation, TestClient[Any, Any]],
) -> None:
    sim, client = control
    await client.post("/robots/tinyRobot/tinyRobot1/stop")
    resp = await client.post("/robots/tinyRobot/tinyRobot1/start")
    assert resp.status == 204
    assert "tinyRobot1" in _reported(sim, "tinyRobot")


async def test_an_unknown_robot_is_404_naming_it(
    control: tuple[Simulation, TestClient[Any, Any]],
) -> None:
    _, client = control
    resp = await client.post("/robots/tinyRobot/nobody/stop")
    assert resp.status == 404
    assert "nobody" in (await resp.json())["detail"]
