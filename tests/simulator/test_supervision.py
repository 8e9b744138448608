"""The simulator never dies silently: a failure is logged at once and ends it (and ``fleethub up``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from fleetcore.errors import PartFailed
from fleetcore.settings import Settings
from fleethub import cli
from simulator import SimConfig, Simulation, SimulatorService
from simulator.commands import SimCommands
from tests.ports import HeldPort


class BrokenSimulation(Simulation):
    """A simulation with a bug that shows after a few steps."""

    steps = 0

    def step(self, dt: float) -> None:
        self.steps += 1
        if self.steps == 3:
            raise RuntimeError("a bug in the simulation")
        super().step(dt)

    def dispatch(self, request: dict[str, Any], robot: str | None = None) -> dict[str, Any]:
        raise KeyError("a bug in dispatching")


def broken_service(hub: HeldPort) -> SimulatorService:
    # Nobody listens at the hub URL: the link keeps retrying while the simulation runs.
    settings = Settings(hub_url=f"http://127.0.0.1:{hub.port}", sim_rate_hz=50.0)
    return SimulatorService(settings, simulation=BrokenSimulation(SimConfig(robots=2)))


async def test_a_failing_simulation_is_logged_at_once_and_ends_the_simulator(
    caplog: pytest.LogCaptureFixture, held_port: HeldPort
) -> None:
    service = broken_service(held_port)
    with pytest.raises(PartFailed, match="a bug in the simulation"):
        await asyncio.wait_for(service.run(), 10)
    logged = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert logged[0].getMessage().startswith("the simulation stopped")


def test_a_command_that_hits_a_bug_is_answered_as_a_failure_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers: list[bytes] = []
    commands = SimCommands(BrokenSimulation(SimConfig(robots=2)), answers.append)
    command = {"request_id": "r1", "kind": "dispatch_task", "body": {"category": "patrol"}}
    commands.on_message({"type": "command", "data": command})
    answer = orjson.loads(answers[0])["data"]
    assert (answer["request_id"], answer["success"]) == ("r1", False)
    assert "a bug in dispatching" in answer["errors"][0]["detail"]
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


async def test_the_embedded_system_ends_when_its_simulator_fails() -> None:
    @contextlib.asynccontextmanager
    async def failing_simulator(port: int) -> AsyncIterator[asyncio.Task[None]]:
        async def fail() -> None:
            raise PartFailed("the simulation stopped: RuntimeError('a bug')")

        yield asyncio.create_task(fail())

    serving = cli._serve(
        web.Application(), Settings(api_port=0), "api", lambda base: base, beside=failing_simulator
    )
    with pytest.raises(PartFailed):
        await asyncio.wait_for(serving, 10)
