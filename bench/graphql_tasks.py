"""The dashboard's task list page: one GraphQL query against the REST calls it replaces.

A page is 20 tasks, each with its robot's state and its latest log line.
Over REST that is ``GET /tasks?limit=20``, ``GET /fleets`` and one
``GET /tasks/{id}/log`` per task (22 calls, as a client without GraphQL
makes them); over GraphQL one ``tasks(first: 20)`` query whose nested
fields are loaded in batches. ``--clients`` concurrent clients load pages
for ``--seconds`` against the same REST app (authentication off, the
in-process bus) on a database seeded with ``--tasks`` tasks; the baseline
(REST) is measured in the same run, right before GraphQL.

Reproduce (SQLite): .venv/bin/python bench/graphql_tasks.py --tasks 10000 --clients 50
On PostgreSQL: add --database-url postgres://postgres@127.0.0.1:5432/bench (an empty database,
or one this bench seeded with as many tasks: it is reused, which saves the seeding).
Where the time goes: ``--profile graphql`` (or ``rest``) profiles that phase of the
whole process (server and clients share it) with pyinstrument, which is not a
dependency: ``.venv/bin/pip install pyinstrument`` first.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import orjson
from aiohttp.test_utils import TestServer

from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.envelope import Publication
from fleetcore.contract.rooms import FLEET_STATE
from fleetcore.settings import Settings
from fleetcore.store import models as db
from fleetcore.store.db import close_database, open_database
from rest_api.app import create_app

Page = Callable[[aiohttp.ClientSession], Awaitable[None]]
PAGE = 20
FLEETS, ROBOTS = 4, 10
NOW_MS = 1_700_000_000_000
QUERY = """
query($first: Int!) { tasks(first: $first, descending: true) { edges { node {
  id status state robot { name status batterySoc } latestLog { text unixMillisTime }
} } } }
"""


async def seed(bus: InMemoryBus, tasks: int) -> None:
    pubs = []
    for f in range(FLEETS):
        robots = {
            f"r{r}": {"name": f"r{r}", "status": "working", "battery": 0.5} for r in range(ROBOTS)
        }
        data = orjson.dumps({"name": f"fleet{f}", "robots": robots})
        pubs.append(Publication(FLEET_STATE.format(name=f"fleet{f}"), f + 1, 1, NOW_MS, data))
    await bus.publish(pubs)
    batch = 2000
    for start in range(0, tasks, batch):
        rows, logs = [], []
        for i in range(start, min(tasks, start + batch)):
            fleet, robot = f"fleet{i % FLEETS}", f"r{i % ROBOTS}"
            state = {"booking": {"id": f"t{i:07d}"}, "status": "underway", "category": "patrol"}
            state["assigned_to"] = {"group": fleet, "name": robot}
            rows.append(
                db.TaskState(
                    id=f"t{i:07d}",
                    category="patrol",
                    assigned_group=fleet,
                    assigned_to=robot,
                    status="underway",
                    data=orjson.dumps(state).decode(),
                    seq=i + 10,
                )
            )
            logs += [
                db.TaskLogEntry(
                    task_id=f"t{i:07d}",
                    phase="1",
                    event=None,
                    log_seq=n,
                    tier="info",
                    unix_millis_time=NOW_MS + n,
                    text=f"step {n}",
                    seq=i + 10,
                )
                for n in range(3)
            ]
        await db.TaskState.bulk_create(rows)
        await db.TaskLogEntry.bulk_create(logs)


async def seeded(bus: InMemoryBus, tasks: int) -> None:
    """Seed an empty database; one this bench seeded with as many tasks is reused as it is."""
    found = await db.TaskState.all().count()
    if found not in (0, tasks):
        raise SystemExit(f"the database holds {found} tasks, not {tasks}: give an empty one")
    if found:
        await seed(bus, 0)  # the fleets' states only: they live on the bus
    else:
        await seed(bus, tasks)


async def rest_page(http: aiohttp.ClientSession) -> None:
    async with http.get("/tasks", params={"limit": str(PAGE), "order_by": "-id"}) as r:
        tasks = await r.json()
    async with http.get("/fleets") as r:
        await r.read()
    for task in tasks:
        path = f"/tasks/{task['booking']['id']}/log"
        async with http.get(path, params={"between": f"0,{NOW_MS + 10}"}) as r:
            await r.read()


async def graphql_page(http: aiohttp.ClientSession) -> None:
    body = {"query": QUERY, "variables": {"first": PAGE}}
    async with http.post("/graphql", json=body) as r:
        answer = await r.json()
    assert "errors" not in answer and len(answer["data"]["tasks"]["edges"]) == PAGE, answer


async def load(base: str, page: Page, clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base, connector=connector) as http:

        async def client() -> None:
            while time.monotonic() < deadline:
                began = time.perf_counter()
                await page(http)
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


@asynccontextmanager
async def profiled(name: str, wanted: str) -> AsyncIterator[None]:
    """Profile the phase ``name`` if it is the one ``--profile`` asks for; print where time went."""
    if name.lower() != wanted:
        yield
        return
    profiler = importlib.import_module("pyinstrument").Profiler(async_mode="disabled")
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))


async def measured(
    name: str, base: str, page: Page, args: argparse.Namespace
) -> tuple[float, float]:
    async with profiled(name, args.profile):
        latencies = await load(base, page, args.clients, args.seconds)
    return describe(name, latencies, args.seconds)


def describe(name: str, latencies: list[float], seconds: float) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100)
    p50, p99 = cuts[49] * 1000, cuts[98] * 1000
    print(f"{name:8} pages/s {len(latencies) / seconds:8.1f}  p50 {p50:8.1f} ms  p99 {p99:8.1f} ms")
    return p50, p99


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite://{tmp}/bench.sqlite3"
        await open_database(url, apply_migrations=True)
        bus = InMemoryBus()
        await bus.start()
        try:
            await seeded(bus, args.tasks)
            settings = Settings(auth_mode="off", data_dir=Path(tmp), database_url=url)
            server = TestServer(create_app(settings, bus, manage_database=False), port=0)
            await server.start_server()
            base = str(server.make_url("")).rstrip("/")
            try:
                print(f"{args.tasks} tasks, {args.clients} clients, {args.seconds} s each, {url}")
                rest = await measured("REST", base, rest_page, args)
                gql = await measured("GraphQL", base, graphql_page, args)
                print(f"GraphQL/REST  p50 x{gql[0] / rest[0]:.2f}  p99 x{gql[1] / rest[1]:.2f}")
            finally:
                await server.close()
        finally:
            await bus.aclose()
            await close_database()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--profile", choices=("", "rest", "graphql"), default="")
    asyncio.run(main(parser.parse_args()))
