"""End to end in the embedded system: a robot stopped mid-task goes stale, offline, alerts, and
its task is canceled and dispatched again to another robot, which completes it.

The simulator publishes to the hub's /_internal over a real loopback
websocket and answers the hub's commands, as a fleet adapter does;
thresholds are short and robots fast, so it takes a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from fleetcore.settings import Settings
from fleetcore.store import models
from hub.derive.reassign import reassign_key
from hub.derive.tasks import REASSIGNED_LABEL
from simulator.service import SimulatorService
from simulator.simulation import SimConfig, Simulation
from tests.conftest import eventually, start_embedded
from tests.helpers import Subscriber


@pytest.fixture
def demo(settings: Settings) -> Settings:
    return settings.replace(
        derive_stale_s=0.4,
        derive_offline_s=0.8,
        derive_restart_grace_s=0.0,
        derive_tick_ms=50,
        derive_reassign=True,
        sim_rate_hz=20.0,
        sim_robot_speed_mps=10.0,
        sim_task_failure_probability=0.0,
    )


@contextlib.asynccontextmanager
async def site(settings: Settings) -> AsyncIterator[tuple[TestServer, Simulation]]:

    server = await start_embedded(settings)
    simulation = Simulation(SimConfig.from_settings(settings.replace(sim_robots=2, sim_fleets=1)))
    service = SimulatorService(
        settings.replace(hub_url=str(server.make_url("")).rstrip("/")),
        simulation=simulation,
        backoff_initial_s=0.05,
    )
    task = asyncio.create_task(service.run())
    try:
        yield server, simulation
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await server.close()


async def _stop_mid_task(sim: Simulation, places: list[str]) -> tuple[str, str]:
    """Dispatch a patrol at the site, and stop its robot once the hub stored it underway."""
    state = sim.dispatch({"category": "patrol", "description": {"places": places}})
    task_id, robot = state["booking"]["id"], state["assigned_to"]["name"]

    async def underway() -> bool:
        return await models.TaskState.filter(id=task_id, status="underway").exists()

    await eventually(underway)
    sim.set_robot_stopped(state["assigned_to"]["group"], robot, True)
    return task_id, robot


def _task_events(watcher: Subscriber, task_id: str) -> list[str]:
    return [e["kind"] for e in watcher.of("/events") if e["task_id"] == task_id]


async def test_stopping_a_robot_mid_task_shows_stale_offline_an_alert_and_a_reassignment(
    demo: Settings,
) -> None:
    async with site(demo) as (server, sim):
        watcher = await Subscriber().connect(str(server.make_url("")).rstrip("/"))
        await watcher.subscribe("/events")
        await watcher.subscribe("/alerts/requests")
        task_id, robot = await _stop_mid_task(sim, ["room_102", "lobby", "room_201"])
        await eventually(lambda: "task_redispatched" in _task_events(watcher, task_id), timeout=10)
        links = [
            e["kind"]
            for e in watcher.of("/events")
            if e["robot"] == robot and e["kind"].startswith("robot_")
        ]
        assert links == ["robot_stale", "robot_offline"]
        assert _task_events(watcher, task_id)[-5:] == [
            "task_reassigned",
            "task_stale",
            "task_stale_cleared",
            "task_canceled",
            "task_redispatched",
        ]
        alerts = [a["title"] for a in watcher.of("/alerts/requests")]
        assert f"Robot {robot} is offline" in alerts
        commands = await models.HubCommand.filter(task_id=task_id).order_by("kind")
        assert [(c.kind, c.key, c.executed) for c in commands] == [
            ("cancel_task", reassign_key(task_id, "cancel"), True),
            ("dispatch_task", reassign_key(task_id, "dispatch"), True),
        ]
        await watcher.close()


async def test_a_reassigned_task_runs_on_another_robot_to_completion_with_the_link_label(
    demo: Settings,
) -> None:
    async with site(demo) as (_, sim):
        task_id, robot = await _stop_mid_task(sim, ["room_102"])

        async def redispatched() -> list[models.TaskLabel]:
            return await models.TaskLabel.filter(label_name=REASSIGNED_LABEL, label_value=task_id)

        (label,) = await eventually(redispatched, timeout=10)

        async def completed() -> models.TaskState | None:
            return await models.TaskState.get_or_none(id=label.task_id, status="completed")

        new = await eventually(completed, timeout=20)
        assert new is not None and new.assigned_to != robot
        assert (await models.TaskState.get(id=task_id)).status == "canceled"
        assert len(await redispatched()) == 1
