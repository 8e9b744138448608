"""The demo's reassignment with real processes: a simulated robot stopped mid-task.

``fleethub up`` as a user starts it (the policy is on there by default),
with the simulator's control endpoint: dispatch a task over REST, stop its
robot, and watch the /events feed and the rooms show it go stale, then
offline, an alert open, and the task canceled and dispatched again, once,
to another robot that completes it (both passes).

Then the same with the hub in a process of its own (PostgreSQL and Redis
pass), restarted in the middle: the simulator is frozen (SIGSTOP) so the
hub's cancel reaches it but its answer cannot come back, the hub is
SIGKILLed, and the next hub finishes the reassignment without a second
cancel or dispatch.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fleetcore.contract.rooms import TASK_STATE
from hub.derive.reassign import reassign_key
from tests.commands.conftest import Processes, dispatch_body
from tests.conftest import (
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    eventually,
    fresh_database_url,
    fresh_redis_prefix,
)
from tests.helpers import Subscriber
from tests.processes import Process, fleethub, wait_http

pytestmark = pytest.mark.integration

ROBOTS = 4
SITE_ENV = {
    "FLEETHUB_AUTH_MODE": "off",
    "FLEETHUB_SIM_ROBOTS": str(ROBOTS),
    "FLEETHUB_SIM_FLEETS": "1",
    "FLEETHUB_SIM_AUTO_TASKS_S": "0",
    "FLEETHUB_SIM_RATE_HZ": "10",
    "FLEETHUB_SIM_ROBOT_SPEED_MPS": "3",
    "FLEETHUB_SIM_TASK_FAILURE_PROBABILITY": "0",
    "FLEETHUB_DERIVE_STALE_S": "0.5",
    "FLEETHUB_DERIVE_OFFLINE_S": "1.5",
    "FLEETHUB_DERIVE_RESTART_GRACE_S": "0",
    "FLEETHUB_DERIVE_TICK_MS": "100",
    # RMF's simulated robots only: up's VDA 5050 vehicles would bid for the dispatches first.
    "FLEETHUB_VDA5050_SIM_VEHICLES": "0",
}
"""A small fast site, thresholds of a second or so; the reassignment policy left at its default."""


@dataclass
class Site:
    api: str
    control: str


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Site]:
    """``fleethub up`` with the simulator's control endpoint, on the pass's database and bus."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETHUB_")}
    async with fresh_database_url(tmp_path) as database_url, fresh_redis_prefix() as prefix:
        env |= {
            **SITE_ENV,
            "FLEETHUB_DATA_DIR": str(tmp_path),
            "FLEETHUB_DATABASE_URL": database_url,
            "FLEETHUB_REDIS_URL": TEST_REDIS_URL,
            "FLEETHUB_REDIS_PREFIX": prefix,
            "FLEETHUB_API_PORT": "0",
            "FLEETHUB_SIM_CONTROL_PORT": "-1",
        }
        process = await fleethub("up", "up", env, tmp_path).start()
        try:
            site = Site(await process.url("api"), await process.url("sim_control"))
            await wait_http(site.api + "/healthz", timeout=30)
            await _every_robot_reported(site.api)
            yield site
        finally:
            code = await process.stop()
            print(process.output()[-3000:])
            assert code == 0


async def _get(http: aiohttp.ClientSession, url: str, **params: str) -> Any:
    async with http.get(url, params=params) as resp:
        return await resp.json() if resp.status == 200 else None


async def _every_robot_reported(api: str) -> None:
    async with aiohttp.ClientSession() as http:

        async def reported() -> bool:
            fleets = await _get(http, api + "/fleets") or []
            rmf = [f for f in fleets if f["name"] != "vda5050"]  # up's VDA 5050 vehicles aside
            return sum(len(f["robots"]) for f in rmf) == ROBOTS

        await eventually(reported, timeout=30, interval=0.2)


async def _dispatch_and_stop_its_robot(
    http: aiohttp.ClientSession, site: Site
) -> tuple[str, str, str]:
    """A patrol over REST; once it is underway its robot is stopped: (task, fleet, robot)."""
    async with http.post(site.api + "/tasks/dispatch_task", json=dispatch_body()) as resp:
        assert resp.status == 200, await resp.text()
        task_id = (await resp.json())["state"]["booking"]["id"]

    async def underway() -> dict[str, Any] | None:
        state = await _get(http, f"{site.api}/tasks/{task_id}/state")
        return state if state and state["status"] == "underway" else None

    state = await eventually(underway, timeout=10)
    fleet, robot = state["assigned_to"]["group"], state["assigned_to"]["name"]
    async with http.post(f"{site.control}/robots/{fleet}/{robot}/stop") as resp:
        assert resp.status == 204
    return task_id, fleet, robot


async def _redispatched(http: aiohttp.ClientSession, api: str, task_id: str) -> dict[str, Any]:
    """The one task dispatched again for ``task_id``, once it completed."""

    async def completed() -> list[dict[str, Any]] | None:
        tasks = await _get(http, api + "/tasks", label=f"reassigned_from={task_id}")
        return tasks if tasks and tasks[0]["status"] == "completed" else None

    found: list[dict[str, Any]] | None = await eventually(completed, timeout=40, interval=0.2)
    assert found is not None and len(found) == 1, found
    return found[0]


async def test_a_stopped_robots_task_is_canceled_and_completed_by_another_robot_once(
    demo: Site,
) -> None:
    watcher = await Subscriber().connect(demo.api)
    try:
        await watcher.subscribe("/events")
        await watcher.subscribe("/alerts/requests")
        async with aiohttp.ClientSession() as http:
            task_id, _, robot = await _dispatch_and_stop_its_robot(http, demo)
            assert (await watcher.subscribe(TASK_STATE.format(task_id=task_id)))["success"]
            new = await _redispatched(http, demo.api, task_id)
            feed = await _get(http, demo.api + "/events", robot=robot)

        kinds = [e["kind"] for e in watcher.of("/events")]
        order = ["robot_stale", "robot_offline", "task_reassigned", "task_canceled"]
        assert [kinds.index(k) for k in order] == sorted(kinds.index(k) for k in order)
        assert kinds.count("task_redispatched") == 1
        assert {"robot_stale", "robot_offline"} <= {e["kind"] for e in feed}
        offline = [a for a in watcher.of("/alerts/requests") if a["title"].endswith("offline")]
        assert offline[0]["title"] == f"Robot {robot} is offline"
        assert offline[0]["tier"] == "error"
        assert watcher.of(TASK_STATE.format(task_id=task_id))[-1]["status"] == "canceled"
        assert new["assigned_to"]["name"] != robot
        assert f"reassigned_from={task_id}" in new["booking"]["labels"]
    finally:
        await watcher.close()


@pytest.fixture
def stack_env() -> dict[str, str]:
    # The next hub watches RMF's state for 8 s: the thawed simulator reconnects and reports.
    return {
        **SITE_ENV,
        "FLEETHUB_DERIVE_REASSIGN": "on",
        "FLEETHUB_COMMAND_REPLY_TIMEOUT_S": "1",
        "FLEETHUB_COMMAND_SITE_WAIT_S": "8",
    }


async def _simulator(procs: Processes, hub_url: str) -> tuple[Process, str]:
    env = {**procs.env, "FLEETHUB_HUB_URL": hub_url, "FLEETHUB_SIM_CONTROL_PORT": "-1"}
    sim = await fleethub("sim", "sim", env, procs.log_dir).start()
    procs.running.append(sim)
    return sim, await sim.url("sim_control")


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="runs in the PostgreSQL + Redis pass")
async def test_a_hub_killed_between_cancel_and_dispatch_redispatches_once(
    stack: tuple[Processes, str, str],
) -> None:
    procs, hub_url, api_url = stack
    sim, control = await _simulator(procs, hub_url)
    cancel_url = f"{api_url}/commands/{{}}"
    async with aiohttp.ClientSession() as http:
        await _every_robot_reported(api_url)
        task_id, _, robot = await _dispatch_and_stop_its_robot(http, Site(api_url, control))
        sim.signal(signal.SIGSTOP)
        cancel, dispatch = reassign_key(task_id, "cancel"), reassign_key(task_id, "dispatch")
        sent = await eventually(lambda: _get(http, cancel_url.format(cancel)), timeout=10)
        assert sent["status"] == "pending"
        assert await _get(http, cancel_url.format(dispatch)) is None

        hub = next(p for p in procs.running if p.name == "hub")
        hub.signal(signal.SIGKILL)
        await hub.stop()
        sim.signal(signal.SIGCONT)
        await procs.start("hub", "hub")
        await wait_http(hub_url + "/readyz")

        new = await _redispatched(http, api_url, task_id)
        assert new["assigned_to"]["name"] != robot
        for key in (cancel, dispatch):
            assert (await _get(http, cancel_url.format(key)))["status"] == "done"
        assert len(await _get(http, api_url + "/events", kind="task_reassigned")) == 1
        assert len(await _get(http, api_url + "/events", kind="task_redispatched")) == 1
