"""Command path latency and throughput: POST /tasks/dispatch_task until the simulated RMF has it.

Runs the embedded system (hub, REST API, command executor) in this process
with a simulated site connected over /_internal, so the time a command
arrives at the simulator is read from the simulator itself. Reports:

- latency, POST sent to the command's arrival at the simulator, p50/p99,
  for dispatches sent open loop at ``--rate`` per second for ``--seconds``;
- throughput: dispatches answered per second with ``--concurrency``
  clients each posting the next as soon as the last was answered.

The baseline printed beside it is a GET /healthz round trip on the same
server in the same run: the HTTP floor under the command path.
Defaults are the embedded SQLite file and in-process bus; give
``--database-url postgres://...`` and ``--redis-url redis://...`` (an empty
database; it is migrated) for the scale-out stores.

Reproduce: .venv/bin/python bench/dispatch.py --rate 20 --seconds 10 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from fleetcore.contract.commands import request_id_for
from fleetcore.settings import Settings
from fleethub.embedded import create_app
from simulator import SimConfig, Simulation, SimulatorService

TOKEN = "bench-site-token-" + "x" * 32
BODY = {
    "type": "dispatch_task_request",
    "request": {"category": "patrol", "description": {"places": ["lobby"]}},
}


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms / p99 {p99 * 1000:.1f} ms"


@contextlib.asynccontextmanager
async def system(args: argparse.Namespace) -> AsyncIterator[tuple[str, SimulatorService]]:
    data_dir = Path(tempfile.mkdtemp(prefix="fleethub-bench-"))
    settings = Settings(
        data_dir=data_dir,
        database_url=args.database_url,
        redis_url=args.redis_url,
        redis_prefix=f"bench-{uuid.uuid4().hex[:8]}",
        auth_mode="off",
        ingest_token=TOKEN,
        sim_auto_tasks_s=0,
    )
    server = TestServer(create_app(settings), host="127.0.0.1", port=0)
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    site = SimulatorService(
        Settings(hub_url=base, ingest_token=TOKEN, sim_rate_hz=10.0),
        simulation=Simulation(SimConfig(robots=10, fleets=1, retain_finished_tasks=100_000)),
        backoff_initial_s=0.05,
    )
    running = asyncio.create_task(site.run())
    try:
        while not site.client.connected:
            await asyncio.sleep(0.02)
        yield base, site
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await server.close()


async def latency(
    http: aiohttp.ClientSession, site: SimulatorService, rate: float, seconds: float
) -> list[float]:
    """Open loop: one dispatch every 1/rate s; the time until each reached the simulator."""
    sent: dict[str, float] = {}

    async def post(key: str) -> None:
        sent[key] = time.monotonic()
        async with http.post(
            "/tasks/dispatch_task", json=BODY, headers={"Idempotency-Key": key}
        ) as answer:
            await answer.read()

    started = time.monotonic()
    posts = []
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
        posts.append(asyncio.create_task(post(f"lat-{uuid.uuid4().hex}")))
    await asyncio.gather(*posts)
    arrived = site.commands.arrived
    return [arrived[request_id_for(k)] - t for k, t in sent.items() if request_id_for(k) in arrived]


async def throughput(http: aiohttp.ClientSession, concurrency: int, seconds: float) -> float:
    """Closed loop: dispatches answered per second by ``concurrency`` back-to-back clients."""
    done = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            async with http.post(
                "/tasks/dispatch_task",
                json=BODY,
                headers={"Idempotency-Key": f"tp-{uuid.uuid4().hex}"},
            ) as answer:
                await answer.read()
                done += answer.status == 200

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return done / seconds


async def baseline(http: aiohttp.ClientSession, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.monotonic()
        async with http.get("/healthz") as answer:
            await answer.read()
        samples.append(time.monotonic() - start)
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    async with system(args) as (base, site), aiohttp.ClientSession(base) as http:
        floor = await baseline(http, 200)
        lat = await latency(http, site, args.rate, args.seconds)
        rate = await throughput(http, args.concurrency, args.seconds)
    stores = "PostgreSQL + Redis" if args.database_url else "SQLite + in-process bus"
    print(f"stores: {stores}")
    print(f"baseline GET /healthz round trip: {percentiles(floor)}")
    print(
        f"POST -> dispatch at the simulator, {args.rate:g}/s for {args.seconds:g} s "
        f"({len(lat)} commands): {percentiles(lat)}"
    )
    print(f"throughput, {args.concurrency} clients back to back: {rate:.0f} dispatches/s answered")


if __name__ == "__main__":
    asyncio.run(main())
