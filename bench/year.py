"""A year of history: hub start-to-ready, RSS and Redis memory stay the size of the live site.

Seeds a PostgreSQL schema with the rows the hub writes for a busy site after
a year: ``--tasks`` finished tasks (state, ``room_state`` value, two log
entries each, finished at even intervals over the past year), 7 tasks
underway and ``--robots`` robots in 10 fleets reporting now. Then it starts
`fleethub hub` (on a private redis-server each time, so Redis's used memory
is the hub's alone) and reports start-to-ready (spawn to the first 200 on
``/readyz``), the hub's RSS once ready, Redis's used memory (less an empty
server's), the sticky rooms in Redis and, through `fleethub api`, the p50 and
p99 of ``GET /tasks/{id}/state`` for a task underway and for year-old ones,
for:

- **no retirement** (``retire_after_s`` 0): every room ever seen is restored,
  as before rooms were retired. The baseline, measured in the same run.
- **first start** with retirement (the default ``retire_after_s``) on the same
  rows, none marked retired yet: the start right after the upgrade. Its sweep
  then marks the year's rooms retired; the bench waits for it.
- **retired**: the next start (after a VACUUM, as autovacuum does), the
  steady state of a site that runs with retirement.
- **site-size**: the same, on a schema with ``--site-tasks`` tasks (default
  10,000): what the live site alone costs, for the issue's goal (start under
  5 s, memory within 10 % of this).

Last, what the live traffic adds in Redis at most: the global stream at its
cap (``redis_stream_keep`` publications of a task state's size), through the
Redis bus on a private server, per publication.

Retention pruning is off, so the rows stay what was seeded. Every schema the
bench creates is dropped at the end.

Reproduce (PostgreSQL on 127.0.0.1, redis-server on PATH; a few minutes):
    .venv/bin/python bench/year.py
A year of a busy site (1,000,000 tasks; the baseline alone takes minutes):
    .venv/bin/python bench/year.py --tasks 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import redis.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.processes import PrivateRedis, fleethub, ready, wait_http

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
ACTIVE_TASKS = 7
FLEETS = 10
CHUNK = 20_000
"""Rows per COPY."""
PROBES = 500
"""Task state reads per kind of task."""


def task_state(task_id: str, status: str, start_ms: int, finish_ms: int | None) -> bytes:
    """A task state of the size RMF's delivery tasks have (about 1.3 kB)."""
    phases = {
        str(n): {
            "id": n,
            "category": f"Go to [place:pickup_{n}]",
            "detail": f"Moving the robot to pickup_{n} and waiting for the dispenser",
            "unix_millis_start_time": start_ms + n * 60_000,
            "unix_millis_finish_time": start_ms + n * 60_000 + 50_000,
            "original_estimate_millis": 60_000,
            "estimate_millis": 0,
            "final_event_id": 0,
            "events": {"0": {"id": 0, "status": "completed", "name": "Go to place"}},
        }
        for n in range(1, 4)
    }
    return orjson.dumps(
        {
            "booking": {"id": task_id, "unix_millis_request_time": start_ms, "labels": []},
            "category": "delivery",
            "detail": {"pickup": "pantry", "dropoff": "ward_3"},
            "unix_millis_start_time": start_ms,
            "unix_millis_finish_time": finish_ms,
            "original_estimate_millis": 180_000,
            "estimate_millis": 0,
            "assigned_to": {"group": "fleet_1", "name": "robot_7"},
            "status": status,
            "dispatch": {"status": "dispatched"},
            "phases": phases,
            "completed": ["1", "2", "3"] if finish_ms else [],
            "active": 0,
            "pending": [],
        }
    )


def fleet_state(fleet: int, robots: int, now_ms: int) -> bytes:
    return orjson.dumps(
        {
            "name": f"fleet_{fleet}",
            "robots": {
                f"robot_{r}": {
                    "name": f"robot_{r}",
                    "status": "working",
                    "task_id": "",
                    "unix_millis_time": now_ms,
                    "location": {"map": "L1", "x": 1.0 * r, "y": 2.0, "yaw": 0.0},
                    "battery": 0.8,
                    "issues": [],
                }
                for r in range(robots)
            },
        }
    )


@dataclass
class Seeded:
    schema: str
    tasks: int


def _task_rows(tasks: int, now_ms: int) -> Iterator[tuple[tuple[Any, ...], ...]]:
    """Per task: its task_state, room_state and two task_log_entry rows, oldest first."""
    step = (YEAR_MS - DAY_MS) // max(tasks, 1)
    for n in range(tasks):
        active = n >= tasks - ACTIVE_TASKS
        finish = now_ms - DAY_MS - (tasks - 1 - n) * step
        start = finish - 180_000
        status = "underway" if active else "completed"
        seq = 3 * n + 3
        task_id = f"task-{n:07d}"
        data = task_state(task_id, status, start, None if active else finish).decode()
        received = now_ms if active else finish
        yield (
            (
                task_id,
                "delivery",
                "fleet_1",
                "robot_7",
                status,
                "bench",
                start,
                None if active else finish,
                start,
                data,
                seq,
            ),
            (f"/tasks/{task_id}/state", seq, 1, received, data, False),
            (task_id, "1", "0", 1, "info", start, "Moving to pickup", seq - 2),
            (task_id, "3", "0", 2, "info", received, "Delivered", seq - 1),
        )


async def seed(
    conn: asyncpg.Connection,
    database_url: str,
    env: dict[str, str],
    tmp: Path,
    tasks: int,
    robots: int,
) -> Seeded:
    schema = "bench_year_" + uuid.uuid4().hex[:8]
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    migrate = await fleethub(
        f"migrate-{schema}", "migrate", _env(env, database_url, schema), tmp
    ).start()
    assert migrate.proc is not None and await migrate.proc.wait() == 0, migrate.output()
    now_ms = time.time_ns() // 1_000_000
    task_cols = (
        "id",
        "category",
        "assigned_group",
        "assigned_to",
        "status",
        "requester",
        "unix_millis_start_time",
        "unix_millis_finish_time",
        "unix_millis_request_time",
        "data",
        "seq",
    )
    room_cols = ("room", "seq", "epoch", "received_ms", "data", "retired")
    log_cols = ("task_id", "phase", "event", "log_seq", "tier", "unix_millis_time", "text", "seq")
    batches: tuple[list[Any], list[Any], list[Any]] = ([], [], [])

    async def flush() -> None:
        for table, columns, rows in (
            ("task_state", task_cols, batches[0]),
            ("room_state", room_cols, batches[1]),
            ("task_log_entry", log_cols, batches[2]),
        ):
            if rows:
                await conn.copy_records_to_table(
                    table, records=rows, columns=columns, schema_name=schema
                )
                rows.clear()

    started = time.monotonic()
    for task, room, *logs in _task_rows(tasks, now_ms):
        batches[0].append(task)
        batches[1].append(room)
        batches[2].extend(logs)
        if len(batches[0]) >= CHUNK:
            await flush()
    seq = 3 * tasks + 3
    per_fleet = max(robots // FLEETS, 1)
    for fleet in range(FLEETS):
        seq += 1
        data = fleet_state(fleet, per_fleet, now_ms).decode()
        batches[1].append((f"/fleets/fleet_{fleet}/state", seq, 1, now_ms, data, False))
    await flush()
    await conn.execute(
        f'INSERT INTO "{schema}".hub_meta (key, value) VALUES ($1, $2), ($3, $4)',
        "seq",
        seq,
        "epoch",
        1,
    )
    await conn.execute(f'ANALYZE "{schema}".room_state')
    await conn.execute(f'ANALYZE "{schema}".task_state')
    print(f"seeded {tasks:,} tasks in {time.monotonic() - started:.1f} s ({schema})", flush=True)
    return Seeded(schema, tasks)


def _env(env: dict[str, str], database_url: str, schema: str) -> dict[str, str]:
    return {**env, "FLEETHUB_DATABASE_URL": f"{database_url}?schema={schema}"}


@dataclass
class Figures:
    ready_s: float
    rss_mb: float
    redis_mb: float
    sticky_rooms: int


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def _used_memory(client: redis.asyncio.Redis) -> int:
    info = await client.info("memory")
    return int(info["used_memory"])


async def measure(name: str, env: dict[str, str], tmp: Path) -> tuple[Figures, Any]:
    """Start a hub on a fresh private Redis; its figures once ready, and the running parts."""
    private = await PrivateRedis(tmp).start()
    client = redis.asyncio.Redis.from_url(private.url)
    empty = await _used_memory(client)
    hub = fleethub(name, "hub", {**env, "FLEETHUB_REDIS_URL": private.url}, tmp)
    started = time.monotonic()
    await hub.start()
    url = await hub.url("hub")
    while await ready(url) is None:
        assert hub.proc is not None
        if hub.proc.returncode is not None:
            raise RuntimeError(f"the hub ended:\n{hub.output()}")
        await asyncio.sleep(0.02)
    ready_s = time.monotonic() - started
    assert hub.proc is not None
    rss = _rss_mb(hub.proc.pid)
    used = await _used_memory(client)
    rooms = await client.hlen(f"{env['FLEETHUB_REDIS_PREFIX']}:sticky_seq")
    figures = Figures(ready_s, rss, (used - empty) / 2**20, rooms)
    return figures, (hub, private, client)


async def stop(parts: Any) -> None:
    hub, private, client = parts
    await hub.stop()
    await client.aclose()
    await private.stop()


@dataclass
class Latency:
    live: tuple[float, float]
    old: tuple[float, float]
    """p50 and p99 of ``GET /tasks/{id}/state``, ms, for a task underway and for finished ones."""


def _p50_p99(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000


async def state_latency(
    name: str, env: dict[str, str], parts: Any, tmp: Path, tasks: int
) -> Latency:
    """``fleethub api`` beside the hub: task state reads, 10 at a time, for live and old tasks."""
    _, private, _ = parts
    api_env = {
        **env,
        "FLEETHUB_REDIS_URL": private.url,
        "FLEETHUB_API_PORT": "0",
        "FLEETHUB_AUTH_MODE": "off",
    }
    api = await fleethub(f"api-{name}", "api", api_env, tmp).start()
    try:
        base = await api.url("api")
        await wait_http(base + "/healthz")
        async with aiohttp.ClientSession(base) as http:

            async def timed(task_ids: list[str]) -> list[float]:
                samples: list[float] = []

                async def one(task_id: str) -> None:
                    started = time.monotonic()
                    async with http.get(f"/tasks/{task_id}/state") as response:
                        await response.read()
                        assert response.status == 200, response.status
                    samples.append(time.monotonic() - started)

                for start in range(0, len(task_ids), 10):
                    await asyncio.gather(*(one(t) for t in task_ids[start : start + 10]))
                return samples

            live = f"task-{tasks - 1:07d}"
            finished = tasks - ACTIVE_TASKS
            rng = random.Random(7)
            old = [f"task-{rng.randrange(finished):07d}" for _ in range(PROBES)]
            await timed([live] * 50 + old[:50])
            return Latency(_p50_p99(await timed([live] * PROBES)), _p50_p99(await timed(old)))
    finally:
        await api.stop()


async def run(name: str, env: dict[str, str], tmp: Path, tasks: int) -> tuple[Figures, Latency]:
    figures, parts = await measure(name, env, tmp)
    try:
        return figures, await state_latency(name, env, parts, tmp, tasks)
    finally:
        await stop(parts)


async def retire_all(
    conn: asyncpg.Connection, seeded: Seeded, env: dict[str, str], tmp: Path
) -> Figures:
    """The first start with retirement; returns its figures once its sweep has finished."""
    figures, parts = await measure(f"first-{seeded.schema}", env, tmp)
    finished = seeded.tasks - ACTIVE_TASKS
    while True:
        count = await conn.fetchval(
            f'SELECT count(*) FROM "{seeded.schema}".room_state WHERE retired'
        )
        if count >= finished:
            break
        await asyncio.sleep(0.5)
    await stop(parts)
    # What autovacuum does after the sweep's updates, which leave an index entry per
    # retired row's old version for the next restore's scan to skip until then.
    await conn.execute(f'VACUUM ANALYZE "{seeded.schema}".room_state')
    return figures


def _row(label: str, f: Figures, base: Figures | None) -> str:
    def ratio(value: float, of: float) -> str:
        return f"({value / of:.2f}x)" if base is not None and of > 0 else ""

    return (
        f"{label:<34} {f.ready_s:7.2f} s {ratio(f.ready_s, base.ready_s if base else 0):>9}"
        f"  {f.rss_mb:8.1f} MB {ratio(f.rss_mb, base.rss_mb if base else 0):>9}"
        f"  {f.redis_mb:8.1f} MB {ratio(f.redis_mb, base.redis_mb if base else 0):>9}"
        f"  {f.sticky_rooms:>9,}"
    )


async def stream_at_cap(tmp: Path) -> tuple[int, float]:
    """Publications the stream keeps and Redis's used memory per publication once it is full."""
    from fleetcore.bus.redis import RedisStreamsBus
    from fleetcore.contract.envelope import Publication
    from fleetcore.settings import Settings

    keep = Settings.redis_stream_keep
    private = await PrivateRedis(tmp).start()
    client = redis.asyncio.Redis.from_url(private.url)
    bus = RedisStreamsBus(private.url, stream_keep=keep)
    try:
        await bus.start()
        empty = await _used_memory(client)
        now_ms = time.time_ns() // 1_000_000
        data = task_state("task-live", "underway", now_ms, None)
        seq = 0
        for _ in range((keep + keep // 5) // 100):
            batch = []
            for n in range(100):
                seq += 1
                room = f"/tasks/task-live-{n % ACTIVE_TASKS}/state"
                batch.append(Publication(room, seq, 1, now_ms, data))
            await bus.publish(batch)
        kept = int(await client.xlen("fleethub:pubs"))
        return kept, (await _used_memory(client) - empty) / kept
    finally:
        await bus.aclose()
        await client.aclose()
        await private.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--site-tasks", type=int, default=10_000)
    parser.add_argument("--robots", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fleethub-year-"))
    env = {
        **os.environ,
        "FLEETHUB_HUB_PORT": "0",
        "FLEETHUB_LOG_LEVEL": "WARNING",
        "FLEETHUB_INGEST_TOKEN": secrets.token_urlsafe(32),
        "FLEETHUB_REDIS_PREFIX": "fleethub",
        "FLEETHUB_RETENTION_INTERVAL_S": "0",
    }
    conn = await asyncpg.connect(args.database_url)
    created: list[str] = []
    try:
        year = await seed(conn, args.database_url, env, tmp, args.tasks, args.robots)
        created.append(year.schema)
        year_env = _env(env, args.database_url, year.schema)
        no_retire = {**year_env, "FLEETHUB_RETIRE_AFTER_S": "0"}
        before, before_reads = await run("no-retirement", no_retire, tmp, args.tasks)
        first = await retire_all(conn, year, year_env, tmp)
        after, after_reads = await run("retired", year_env, tmp, args.tasks)
        site = await seed(conn, args.database_url, env, tmp, args.site_tasks, args.robots)
        created.append(site.schema)
        site_env = _env(env, args.database_url, site.schema)
        await retire_all(conn, site, site_env, tmp)
        small, _ = await run("site-size", site_env, tmp, args.site_tasks)

        print(
            f"\n{'hub on ' + format(args.tasks, ',') + ' tasks':<34} {'start-to-ready':>19}"
            f"  {'RSS':>21}  {'Redis used memory':>21}  {'sticky rooms':>9}"
        )
        print(_row("no retirement (baseline)", before, None))
        print(_row("first start with retirement", first, before))
        print(_row("retired (steady state)", after, before))
        print(_row(f"site-size: {args.site_tasks:,} tasks, retired", small, None))
        print(f"\nGET /tasks/{{id}}/state, ms (p50 / p99), {PROBES} reads each, 10 at a time")
        for label, reads in (("no retirement", before_reads), ("retired", after_reads)):
            print(
                f"{label:<34} task underway {reads.live[0]:6.1f} / {reads.live[1]:6.1f}"
                f"   year-old tasks {reads.old[0]:6.1f} / {reads.old[1]:6.1f}"
            )
        kept, per_pub = await stream_at_cap(tmp)
        print(
            f"\nthe stream at its cap: {kept:,} publications, {per_pub / 1024:.2f} kB each, "
            f"{kept * per_pub / 2**20:.1f} MB"
        )
        print(
            f"retired vs site-size: start {after.ready_s / small.ready_s:.2f}x, "
            f"RSS {after.rss_mb / small.rss_mb:.2f}x, "
            f"Redis {after.redis_mb / max(small.redis_mb, 0.01):.2f}x"
        )
    finally:
        for schema in created:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
