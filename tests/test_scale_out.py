"""The scale-out topology as on Kubernetes: real processes on PostgreSQL and Redis.

hub + 2 proxies + api + sim, each its own process on a port it bound
itself (port 0); the hub behind a stable front, as behind a Service, since
the test kills and restarts it; a private redis-server (so the test may
restart it); a fresh PostgreSQL schema. Runs in the PostgreSQL + Redis pass
of the suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import TEST_DATABASE_URL, eventually
from tests.helpers import TEST_SITE_TOKEN, IngestClient, Subscriber
from tests.processes import Front, PrivateRedis, Process, fleethub, wait_http

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="runs in the PostgreSQL + Redis pass"),
]

FLEETS = ("tinyRobot", "deliveryRobot")


@dataclass
class Topology:
    env: dict[str, str]
    log_dir: Path
    redis: PrivateRedis
    front: Front
    hub: Process
    proxies: list[Process]
    api: Process
    sim: Process
    hub_url: str
    proxy_urls: list[str]
    api_url: str

    def all(self) -> list[Process]:
        return [self.sim, *self.proxies, self.api, self.hub]

    async def start_hub(self) -> None:
        self.hub = await start_hub(self.env, self.log_dir, self.front)
        await wait_http(self.hub_url + "/readyz")

    async def restart_redis(self) -> None:
        await self.redis.kill()
        await self.redis.start()


async def start_hub(env: dict[str, str], log_dir: Path, front: Front) -> Process:
    """A hub on a port of its own, behind ``front``."""
    hub = await fleethub("hub", "hub", env, log_dir).start()
    front.target = await hub.port("hub")
    return hub


@pytest.fixture
async def topology(tmp_path: Path, database_url: str) -> AsyncIterator[Topology]:
    redis = await PrivateRedis(tmp_path).start()
    front = await Front().start()
    env = {
        **__import__("os").environ,
        "FLEETHUB_DATABASE_URL": database_url,
        "FLEETHUB_REDIS_URL": redis.url,
        "FLEETHUB_DATA_DIR": str(tmp_path),
        "FLEETHUB_HUB_URL": front.url,
        "FLEETHUB_HUB_PORT": "0",
        "FLEETHUB_API_PORT": "0",
        "FLEETHUB_PROXY_PORT": "0",
        "FLEETHUB_SIM_ROBOTS": "4",
        "FLEETHUB_SIM_AUTO_TASKS_S": "3",
        "FLEETHUB_LOG_LEVEL": "INFO",
        "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
        "FLEETHUB_AUTH_MODE": "off",  # about scale-out; tests/proxy covers socket auth
    }
    procs: list[Process] = []
    try:
        migrate = await fleethub("migrate", "migrate", env, tmp_path).start()
        assert migrate.proc is not None and await migrate.proc.wait() == 0, migrate.output()
        hub = await start_hub(env, tmp_path, front)
        procs.append(hub)
        await wait_http(front.url + "/readyz")
        proxies = []
        for i in range(2):
            proxy = await fleethub(f"proxy{i}", "proxy", env, tmp_path).start()
            proxies.append(proxy)
            procs.append(proxy)
        api = await fleethub("api", "api", env, tmp_path).start()
        procs.append(api)
        sim = await fleethub("sim", "sim", env, tmp_path).start()
        procs.append(sim)
        proxy_urls = [await proxy.url("proxy") for proxy in proxies]
        for url in proxy_urls:
            await wait_http(url + "/healthz")
        api_url = await api.url("api")
        await wait_http(api_url + "/readyz")
        topo = Topology(
            env, tmp_path, redis, front, hub, proxies, api, sim, front.url, proxy_urls, api_url
        )
        yield topo
        procs = topo.all()
    finally:
        outputs = []
        for proc in reversed(procs):
            await proc.stop()
            outputs.append(f"--- {proc.name}\n{proc.output()[-1500:]}")
        await front.aclose()
        await redis.stop()
        outputs.append(f"--- redis\n{redis.process.output()[-1500:] if redis.process else ''}")
        print("\n".join(outputs))


async def listed_robots(api_url: str) -> int:
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(api_url + "/fleets") as resp:
                fleets = await resp.json() if resp.status == 200 else []
        except aiohttp.ClientError:
            return 0
    return sum(len(f["robots"]) for f in fleets)


def seqs(client: Subscriber, room: str) -> list[int]:
    return [env["seq"] for env in client.of(room)]


async def subscribe_all(client: Subscriber, rooms: list[str]) -> None:
    for room in rooms:
        assert (await client.subscribe(room))["success"]


async def test_clients_on_two_proxies_see_identical_sequences_that_survive_a_hub_kill_and_a_redis_restart(
    topology: Topology,
) -> None:
    rooms = [f"/fleets/{name}/state" for name in FLEETS]
    await eventually(lambda: listed_robots(topology.api_url), timeout=10)
    a = await Subscriber(envelopes=True).connect(topology.proxy_urls[0])
    b = await Subscriber(envelopes=True).connect(topology.proxy_urls[1])
    try:
        await subscribe_all(a, rooms)
        await subscribe_all(b, rooms)
        await eventually(
            lambda: all(len(a.of(r)) >= 4 and len(b.of(r)) >= 4 for r in rooms), timeout=10
        )

        for room in rooms:
            common = sorted(set(seqs(a, room)) & set(seqs(b, room)))
            assert len(common) >= 3
            low, high = common[0], common[-1]
            assert [s for s in seqs(a, room) if low <= s <= high] == [
                s for s in seqs(b, room) if low <= s <= high
            ]

        epoch_before = a.of(rooms[0])[-1]["epoch"]
        await topology.hub.kill()
        assert await listed_robots(topology.api_url) == 4, "sticky state must outlive the hub"
        await topology.start_hub()
        await eventually(
            lambda: all(c.of(r)[-1]["epoch"] == epoch_before + 1 for c in (a, b) for r in rooms),
            timeout=15,
        )
        for client in (a, b):
            for room in rooms:
                observed = seqs(client, room)
                assert observed == sorted(set(observed)), "no duplicate, never backwards"
                epochs = [env["epoch"] for env in client.of(room)]
                assert epochs == sorted(epochs) and len(set(epochs)) == 2

        await topology.restart_redis()
        counts = {r: len(a.of(r)) for r in rooms}
        await eventually(lambda: all(len(a.of(r)) > counts[r] + 1 for r in rooms), timeout=30)
        await eventually(lambda: listed_robots(topology.api_url), timeout=30)
        for room in rooms:
            observed = seqs(a, room)
            assert observed == sorted(set(observed))
    finally:
        await a.close()
        await b.close()


def task_log(n: int) -> dict[str, Any]:
    return {
        "task_id": "resume-probe",
        "log": [{"seq": n, "tier": "info", "unix_millis_time": 1 + n, "text": f"entry {n}"}],
    }


async def test_a_client_away_while_a_hundred_entries_pass_resumes_with_since_and_misses_nothing(
    topology: Topology,
) -> None:
    room = "/tasks/resume-probe/log"
    sent = 0
    stop = asyncio.Event()

    async def produce() -> None:
        nonlocal sent
        async with IngestClient(topology.hub_url) as ingest:
            while not stop.is_set():
                await ingest.send("task_log_update", task_log(sent))
                sent += 1
                await asyncio.sleep(0.02)

    producer = asyncio.create_task(produce())
    try:
        first = await Subscriber(envelopes=True).connect(topology.proxy_urls[0])
        await first.subscribe(room)
        await eventually(lambda: len(first.of(room)) >= 10)
        last_seq = first.of(room)[-1]["seq"]
        received = [env["data"]["log"][0]["seq"] for env in first.of(room)]
        await first.close()
        away_from = sent
        await eventually(lambda: sent >= away_from + 100, timeout=10)
        resumed = await Subscriber(envelopes=True).connect(topology.proxy_urls[1])
        ack = await resumed.subscribe(room, since=last_seq)
        assert ack == {"success": True}
        await eventually(lambda: len(resumed.of(room)) >= 100)
        stop.set()
        await producer
        after = [env["data"]["log"][0]["seq"] for env in resumed.of(room)]
        entries = received + after
        assert entries == list(range(entries[-1] + 1)), "every entry exactly once, in order"
        await resumed.close()
    finally:
        stop.set()
        await producer
