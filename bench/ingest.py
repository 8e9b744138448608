"""Ingest throughput of one hub process on PostgreSQL, against a naive writer.

Sender processes (outside the hub's process, as fleet adapters are) push
``fleet_state_update`` frames for ``--robots`` robots in fleets of
``--fleet-size`` at ``--rate`` Hz each over the real /_internal websocket of
a real hub (the ``fleethub hub`` app: validation, the batched writer with its
outbox and fencing check, publication to the bus). Reported:

- sustained robot updates/s published, and frames/s;
- p50/p99 latency from the instant a frame is due (the sender's clock) to the
  bus listener in the hub process (one machine, one clock);
- the hub process's CPU (user+sys seconds per wall second);
- database rows/s written by the hub;
- where the latency goes: the mean time from the hub receiving a frame to
  publishing it (``fleethub_ingest_to_publish_seconds``, without the wait in
  the socket) and the mean time of a batch's transaction
  (``fleethub_store_commit_seconds``), from the hub's own metrics.

The baseline, measured in the same run against the same PostgreSQL, is the
naive store: one autocommit INSERT per robot update (what a per-row ORM
writer does), driven as fast as it can go for the same duration.

Fleets send at spread phases within each period, as independent fleet
adapters do; ``--burst`` sends every fleet at the start of the period, the
worst case, where the latency shows the queue the whole site's update forms.
Every sender process keeps the same period boundaries (the wall clock's), so
a burst is one instant for all of them.

``--ceiling`` steps the offered rate up instead (fleets of ``--fleet-size``
at ``--rate`` Hz, more robots each step) and reports the highest rate the
hub sustains with p99 ingest->publish under ``--p99-ms``; the naive store's
ceiling is found the same way, each update stored by one INSERT before it
counts as published, its latency from the moment its burst arrived.

The hub process freezes its startup heap and collects its young generation
at the hub's pace (:mod:`fleetcore.heap`), as ``fleethub hub`` does.

Reproduce (PostgreSQL on 127.0.0.1, trust auth):
    .venv/bin/python bench/ingest.py --robots 5000 --rate 2 --seconds 20 [--burst]
    .venv/bin/python bench/ingest.py --ceiling --burst --seconds 8
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import multiprocessing
import os
import re
import resource
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from fleetcore import metrics
from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract import rooms
from fleetcore.contract.envelope import Publication
from fleetcore.heap import collect_young_every, freeze_startup_heap
from fleetcore.settings import Settings
from fleetcore.store.db import close_database, open_database
from hub.service import Hub
from hub.web import add_ingest_routes


def robot(name: str, t: float) -> dict[str, object]:
    return {
        "name": name,
        "status": "working",
        "task_id": "task-" + name,
        "unix_millis_time": int(t * 1000),
        "battery": 0.8,
        "location": {"map": "L1", "x": 10.0 + (t % 30), "y": 5.0, "yaw": 1.57},
        "issues": [],
    }


def sender(
    url: str, fleets: list[tuple[str, float]], fleet_size: int, rate: float, stop: Any
) -> None:
    """One sender process: its fleets at ``rate`` Hz until ``stop`` is set.

    Each fleet sends at its phase (a fraction of the period) on the wall clock's
    period boundaries, which every sender process shares: fleets of different
    processes given the same phase send at the same instant. A frame's robots are
    stamped with that instant (``unix_millis_time``), and the frame carries nothing
    an RMF fleet adapter's would not: while the hub does not read, a frame waits in
    its socket as a fleet adapter's would, and that wait is part of its latency.
    """

    def frame(fleet: str, at: float) -> str:
        state = {
            "name": fleet,
            "robots": {f"{fleet}_r{i}": robot(f"{fleet}_r{i}", at) for i in range(fleet_size)},
        }
        return orjson.dumps({"type": "fleet_state_update", "data": state}).decode()

    async def run() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, max_msg_size=0) as ws,
        ):
            period = 1.0 / rate
            tick = math.ceil(time.time() / period)
            while not stop.is_set():
                # Encoded ahead, so a frame's latency starts at its instant, not after this
                # process encoded the frames before it.
                due = [((tick + phase) * period, fleet) for fleet, phase in fleets]
                frames = [(at, frame(fleet, at)) for at, fleet in due]
                for at, text in frames:
                    delay = at - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await ws.send_str(text)
                tick += 1

    asyncio.run(run())


def phases(names: list[str], senders: int, burst: bool) -> list[list[tuple[str, float]]]:
    """Each sender's fleets with their phase in the period: all 0 for a burst (the whole
    site's update arrives at once), else spread evenly over the period, as independent
    fleet adapters send."""
    spread = [(name, 0.0 if burst else index / len(names)) for index, name in enumerate(names)]
    return [spread[first::senders] for first in range(senders)]


SENT_MS = re.compile(rb'"unix_millis_time":(\d+)')


def sent_ns(data_json: bytes) -> int:
    """A fleet state's send time (its first robot's time, to the millisecond), read without
    parsing it: the listener runs in the hub's process, and parsing every publication whole
    would add to the latency it measures."""
    found = SENT_MS.search(data_json)
    assert found is not None, "a fleet state the bench sent carries its robots' time"
    return int(found.group(1)) * 1_000_000


def gc_pauses(pauses: list[tuple[float, float]]) -> Callable[[str, dict[str, int]], None]:
    """A :data:`gc.callbacks` hook adding each full collection's pause to ``pauses``, in ms of
    wall and of CPU time: the event loop, and every frame in flight, stands still for it. On a
    loaded machine the wall time includes waiting for a core; the CPU time does not."""
    started = (0.0, 0.0)

    def hook(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if info["generation"] != 2:
            return
        now = (time.perf_counter(), time.thread_time())
        if phase == "start":
            started = now
        else:
            pauses.append(((now[0] - started[0]) * 1000, (now[1] - started[1]) * 1000))

    return hook


async def measure_hub(
    database_url: str,
    robots: int,
    fleet_size: int,
    rate: float,
    seconds: float,
    senders: int,
    burst: bool,
) -> dict[str, float]:
    await open_database(database_url, apply_migrations=True)
    bus = InMemoryBus()
    latencies: list[float] = []
    published_robots = 0
    frames = 0
    counting = False
    names = [f"fleet{i}" for i in range(max(1, robots // fleet_size))]
    fleet_rooms = {rooms.FLEET_STATE.format(name=name) for name in names}
    heard: set[str] = set()
    every_fleet = asyncio.Event()
    first_seq = float("inf")  # what the hub restores from an earlier step is not this step's

    async def listen(batch: Sequence[Publication]) -> None:
        nonlocal published_robots, frames
        now = time.time_ns()
        for pub in batch:
            if pub.room not in fleet_rooms or pub.seq <= first_seq:
                continue
            heard.add(pub.room)
            if counting:
                latencies.append((now - sent_ns(pub.data_json)) / 1e6)
                published_robots += fleet_size
                frames += 1
        if len(heard) == len(fleet_rooms):
            every_fleet.set()

    bus.add_listener(listen)
    token = secrets.token_urlsafe(32)
    settings = Settings(database_url=database_url, ingest_token=token)
    hub = Hub(settings, bus)
    await hub.start()
    first_seq = hub.position.seq
    freeze_startup_heap()
    collect_young_every()
    from aiohttp import web

    app = web.Application()
    add_ingest_routes(app, hub, settings)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    url = str(server.make_url("/_internal").with_query(token=token)).replace("http", "ws", 1)
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    procs = [
        ctx.Process(target=sender, args=(url, g, fleet_size, rate, stop))
        for g in phases(names, senders, burst)
        if g
    ]
    for p in procs:
        p.start()
    await every_fleet.wait()  # every sender connected
    await asyncio.sleep(3)  # warm-up: first batches
    rows_before = metrics.WRITE_ROWS._value.get()
    stages_before = stage_totals()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    pauses: list[tuple[float, float]] = []
    gc.callbacks.append(gc_pauses(pauses))
    counting = True
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    counting = False
    gc.callbacks.pop()
    stop.set()
    wall = time.monotonic() - t0
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    rows = metrics.WRITE_ROWS._value.get() - rows_before
    stages = [after - before for after, before in zip(stage_totals(), stages_before, strict=True)]
    for p in procs:
        await asyncio.to_thread(p.join)
    await hub.stop()
    await server.close()
    await close_database()
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    latencies.sort()
    return {
        "robot_updates_per_s": published_robots / wall,
        "frames_per_s": frames / wall,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
        "cpu": cpu / wall,
        "rows_per_s": rows / wall,
        "full_gc_per_s": len(pauses) / wall,
        "full_gc_max_ms": max((wall for wall, _ in pauses), default=0.0),
        "full_gc_max_cpu_ms": max((cpu for _, cpu in pauses), default=0.0),
        "received_to_published_ms": 1000 * stages[0] / stages[1] if stages[1] else float("nan"),
        "commit_ms": 1000 * stages[2] / stages[3] if stages[3] else float("nan"),
        "commits_per_s": stages[3] / wall,
    }


def stage_totals() -> tuple[float, float, float, float]:
    """The hub's receipt-to-publish and commit histograms so far: (sum, count) of each."""
    value = REGISTRY.get_sample_value
    return (
        value("fleethub_ingest_to_publish_seconds_sum") or 0.0,
        value("fleethub_ingest_to_publish_seconds_count") or 0.0,
        value("fleethub_store_commit_seconds_sum") or 0.0,
        value("fleethub_store_commit_seconds_count") or 0.0,
    )


NaiveWrite = Callable[[int], Awaitable[None]]


@contextlib.asynccontextmanager
async def naive_store(dsn: str) -> AsyncIterator[NaiveWrite]:
    """The naive store's write in a scratch table: one autocommit INSERT of robot ``index``'s
    update, what a per-row ORM writer does."""
    conn = await asyncpg.connect(dsn)
    table = "naive_" + uuid.uuid4().hex[:8]
    await conn.execute(
        f"CREATE TABLE {table} (id bigserial primary key, fleet text, robot text, data jsonb, received bigint)"
    )

    async def write(index: int) -> None:
        now = time.time()
        await conn.execute(
            f"INSERT INTO {table} (fleet, robot, data, received) VALUES ($1, $2, $3, $4)",
            "fleet0",
            f"r{index}",
            orjson.dumps(robot(f"r{index}", now)).decode(),
            int(now * 1000),
        )

    try:
        yield write
    finally:
        await conn.execute(f"DROP TABLE {table}")
        await conn.close()


async def measure_naive(dsn: str, seconds: float) -> float:
    """The naive store as fast as it goes, in updates/s."""
    async with naive_store(dsn) as write:
        done = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            await write(done % 50)
            done += 1
        return done / (time.monotonic() - t0)


async def measure_naive_latency(
    dsn: str, offered: float, hz: float, seconds: float, burst: bool
) -> dict[str, float]:
    """The naive store at ``offered`` updates/s: each period's updates arrive at once
    (``burst``) or evenly spread, and each counts as published once its INSERT returned.

    Latency runs from an update's arrival, so a store that falls behind shows the queue.
    """
    per_period = max(1, round(offered / hz))
    latencies: list[float] = []
    async with naive_store(dsn) as write:
        start = time.monotonic()
        done = 0
        while True:
            period, index = divmod(done, per_period)
            arrival = start + period / hz + (0.0 if burst else index / offered)
            if arrival - start >= seconds:
                break
            delay = arrival - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await write(index)
            latencies.append((time.monotonic() - arrival) * 1000)
            done += 1
        wall = time.monotonic() - start
    latencies.sort()
    return {
        "robot_updates_per_s": done / wall,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
    }


Step = Callable[[float], Awaitable[dict[str, float]]]


async def ceiling(name: str, rates: Sequence[float], step: Step, p99_ms: float) -> float:
    """The highest of ``rates`` (ascending) whose p99 stays under ``p99_ms`` with at least
    95% of the offered updates published; stops after two rates in a row fail."""
    best = 0.0
    failures = 0
    for rate in rates:
        result = await step(rate)
        ok = result["p99_ms"] < p99_ms and result["robot_updates_per_s"] >= 0.95 * rate
        print(
            f"{name:5s} offered {rate:7.0f}/s: published {result['robot_updates_per_s']:7.0f}/s,"
            f" p99 {result['p99_ms']:8.1f} ms {'ok' if ok else 'over'}",
            flush=True,
        )
        if ok:
            best, failures = rate, 0
        else:
            failures += 1
            if failures == 2:
                break
    return best


async def run_ceiling(args: argparse.Namespace, database_url: str) -> None:
    hz = args.rate

    async def hub_step(rate: float) -> dict[str, float]:
        robots = max(args.fleet_size, round(rate / hz / args.fleet_size) * args.fleet_size)
        return await measure_hub(
            database_url, robots, args.fleet_size, hz, args.seconds, args.senders, args.burst
        )

    async def naive_step(rate: float) -> dict[str, float]:
        return await measure_naive_latency(args.database_url, rate, hz, args.seconds, args.burst)

    hub_rates = [float(r) for r in args.ceiling_rates.split(",")]
    hub_best = await ceiling("hub", hub_rates, hub_step, args.p99_ms)
    naive_max = await measure_naive(args.database_url, min(args.seconds, 5.0))
    naive_rates = [naive_max * f for f in (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0)]
    naive_best = await ceiling("naive", naive_rates, naive_step, args.p99_ms)
    shape = "all fleets at once" if args.burst else "fleets at spread phases"
    print(
        f"ceiling ({shape}, {hz} Hz, p99 < {args.p99_ms:.0f} ms): hub {hub_best:.0f} robot updates/s,"
        f" naive {naive_best:.0f} (its unpaced maximum {naive_max:.0f}/s)"
    )
    if naive_best:
        print(f"ratio: the hub's ceiling is {hub_best / naive_best:.1f}x the naive store's")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "FLEETHUB_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--robots", type=int, default=5000)
    parser.add_argument("--fleet-size", type=int, default=50)
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument(
        "--burst",
        action="store_true",
        help="every fleet sends at the start of each period (worst case); default: spread phases",
    )
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="step the offered rate up; report the highest with p99 under --p99-ms, hub and naive",
    )
    parser.add_argument(
        "--ceiling-rates",
        default="2000,4000,6000,8000,10000,12000,14000,16000,20000",
        help="the hub's steps, robot updates/s (fleets of --fleet-size at --rate Hz)",
    )
    parser.add_argument("--p99-ms", type=float, default=100.0)
    args = parser.parse_args()
    schema = "bench_" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(args.database_url)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        if args.ceiling:
            await run_ceiling(args, f"{args.database_url}?schema={schema}")
            return
        hub = await measure_hub(
            f"{args.database_url}?schema={schema}",
            args.robots,
            args.fleet_size,
            args.rate,
            args.seconds,
            args.senders,
            args.burst,
        )
        naive = await measure_naive(args.database_url, min(args.seconds, 10.0))
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
    offered = args.robots * args.rate
    print(
        f"offered: {args.robots} robots in fleets of {args.fleet_size} at {args.rate} Hz = {offered:.0f} robot updates/s"
        f" ({'all fleets at once' if args.burst else 'fleets at spread phases'})"
    )
    print(
        f"hub:   {hub['robot_updates_per_s']:.0f} robot updates/s published ({hub['frames_per_s']:.0f} frames/s), "
        f"ingest->publish p50 {hub['p50_ms']:.1f} ms p99 {hub['p99_ms']:.1f} ms, "
        f"CPU {hub['cpu']:.2f} core, DB {hub['rows_per_s']:.0f} rows/s, "
        f"full GC {hub['full_gc_per_s']:.2f}/s of up to {hub['full_gc_max_ms']:.0f} ms"
        f" ({hub['full_gc_max_cpu_ms']:.0f} ms CPU)"
    )
    print(
        f"hub stages (means): a frame received->published {hub['received_to_published_ms']:.1f} ms"
        f" (the rest of its latency it waited in its socket), a batch's commit"
        f" {hub['commit_ms']:.1f} ms ({hub['commits_per_s']:.1f} commits/s)"
    )
    print(f"naive: {naive:.0f} robot updates/s (one INSERT each)")
    print(
        f"ratio: hub sustains {hub['robot_updates_per_s'] / naive:.1f}x the naive store's maximum"
    )


if __name__ == "__main__":
    asyncio.run(main())
