"""Exactly once across a hub crash: 100 tasks/s with client retries, the hub SIGKILLed mid-way.

Real processes on PostgreSQL and Redis (hub, api) and the simulator in this
process, so its log of requests and its clock can be read directly. Every
task acknowledged to a client (200 with a task id) must exist exactly once,
and the simulator must have seen exactly one request per idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import statistics
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from fleetcore.contract.commands import request_id_for
from fleetcore.settings import Settings
from simulator import SimConfig, Simulation, SimulatorService
from tests.commands.conftest import Processes, dispatch_body
from tests.conftest import TEST_DATABASE_URL, eventually
from tests.helpers import TEST_SITE_TOKEN

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="runs in the PostgreSQL + Redis pass"),
]

RATE = 100
"""New tasks submitted per second."""
SECONDS = 6.0
KILL_AFTER_S = 2.5
RETRY_PROBABILITY = 0.3
"""Chance that a client sends its request again although the first try succeeded."""


@contextlib.asynccontextmanager
async def simulated_site(hub_url: str) -> AsyncIterator[SimulatorService]:
    service = SimulatorService(
        Settings(hub_url=hub_url, sim_rate_hz=10.0, ingest_token=TEST_SITE_TOKEN),
        simulation=Simulation(SimConfig(robots=4, fleets=1, retain_finished_tasks=100_000)),
        backoff_initial_s=0.05,
    )
    running = asyncio.create_task(service.run())
    try:
        await eventually(lambda: service.client.connected, timeout=20)
        yield service
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


class Client:
    """One task's client: retries on errors and 202s, sometimes repeats a success."""

    def __init__(self, http: aiohttp.ClientSession, key: str, rng: random.Random) -> None:
        self.http, self.key, self.rng = http, key, rng
        self.posted_at = 0.0
        self.task_ids: set[str] = set()
        self.attempts = 0

    async def run(self, deadline: float) -> None:
        self.posted_at = time.monotonic()
        repeat = self.rng.random() < RETRY_PROBABILITY
        while time.monotonic() < deadline:
            self.attempts += 1
            try:
                async with self.http.post(
                    "/tasks/dispatch_task",
                    json=dispatch_body("lobby"),
                    headers={"Idempotency-Key": self.key},
                ) as answer:
                    body = await answer.json(content_type=None)
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                status, body = 0, None
            if status == 400:
                return  # RMF refused it: a final outcome, not acknowledged
            if status == 200 and body and body.get("success"):
                self.task_ids.add(body["state"]["booking"]["id"])
                if not repeat:
                    return
                repeat = False
                continue
            await asyncio.sleep(0.2 + self.rng.random() * 0.3)


async def test_every_acknowledged_task_exists_once_across_a_hub_sigkill(
    stack: tuple[Processes, str, str],
) -> None:
    procs, hub_url, api_url = stack
    rng = random.Random(5)
    async with (
        simulated_site(hub_url) as site,
        aiohttp.ClientSession(api_url, timeout=aiohttp.ClientTimeout(total=10)) as http,
    ):
        clients: list[Client] = []
        runs: list[asyncio.Task[None]] = []
        started = time.monotonic()
        # Long enough for the next hub and the site's reconnect; a command whose answer died
        # with the hub stays pending (reported as such), and its client gives up here.
        deadline = started + 30
        killed = False
        for i in range(int(RATE * SECONDS)):
            await asyncio.sleep(max(0.0, started + i / RATE - time.monotonic()))
            if not killed and time.monotonic() - started >= KILL_AFTER_S:
                hub = next(p for p in procs.running if p.name == "hub")
                hub.signal(signal.SIGKILL)
                await hub.stop()
                await procs.start("hub", "hub")
                killed = True
            client = Client(http, f"k{i}", rng)
            clients.append(client)
            runs.append(asyncio.create_task(client.run(deadline)))
        await asyncio.gather(*runs)

    acknowledged = [c for c in clients if c.task_ids]
    assert all(len(c.task_ids) == 1 for c in acknowledged), "a key got two different tasks"
    task_ids = [next(iter(c.task_ids)) for c in acknowledged]
    assert len(set(task_ids)) == len(task_ids)
    assert set(task_ids) <= set(site.simulation.tasks)
    # RMF's log: one request per key, and no request for a key nobody sent.
    assert all(count == 1 for count in site.commands.requests.values())
    sent = {request_id_for(c.key) for c in clients}
    assert set(site.commands.requests) <= sent
    assert len(site.simulation.tasks) == len(site.commands.requests)
    # Nearly everything is acknowledged in the end; the rest is reported pending, never doubled.
    assert len(acknowledged) >= 0.95 * len(clients)

    before_kill = [c for c in clients if c.posted_at < started + KILL_AFTER_S - 0.5]
    print(
        f"\n{len(clients)} tasks at {RATE}/s, hub SIGKILLed at {KILL_AFTER_S}s: "
        f"{len(acknowledged)} acknowledged, {sum(c.attempts for c in clients)} POSTs; "
        f"POST to dispatch at the simulator: {_percentiles(site, before_kill)} before the kill, "
        f"{_percentiles(site, clients)} overall"
    )


def _percentiles(site: SimulatorService, clients: list[Client]) -> str:
    latencies = sorted(
        site.commands.arrived[request_id_for(c.key)] - c.posted_at
        for c in clients
        if request_id_for(c.key) in site.commands.arrived
    )
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000
    return f"p50 {p50:.1f} ms / p99 {p99:.1f} ms"
