"""REST at a year's size: the dashboard's and rmf-web's reads over a million tasks.

Seeds its own PostgreSQL database (``fleethub_bench_rest``, the project's
schema through its migrations) with ``--tasks`` tasks requested over the past
year (states, categories, labels, requesters, robots of 5 fleets), the
derived events of that year, the task logs of the last 30 days and the
robots' position samples of the last 7 days (the default retentions), by
COPY. The seed is kept and reused while its parameters match; migrations
added since are applied to it.

Then it starts `fleethub api` on its own port (auth off, a private
redis-server) and drives each read at a steady rate from ``--clients``
concurrent aiohttp clients, reporting p50/p99 per query: task list pages
with each filter and order, first pages and pages from the middle, task id
lists, label filters, time ranges, keyset pages of ``/events``, a task's
log, a robot's history.

Baselines, measured in the same run at the same rate and concurrency:
the naive SQL each query shape replaces (an OFFSET page through whole rows,
the filters as they were written before), sent straight to PostgreSQL with
asyncpg, so the ratio leaves out HTTP and JSON in the baseline's favour.
``--explain`` prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest queries.

Ordering by a label (``order_by=label=pickup``) reads the label's index;
descending on PostgreSQL (tasks without the label first) it is still a sort
of every task (a correlated subquery a row), whose backlog (each request
seconds, and not cancelled when the client gives up) would spill into the
reads measured after it. ``--explain`` shows the walking plan for an offset
page of the whole list, which the API places by its counts instead.

Reproduce (PostgreSQL on 127.0.0.1:5432, redis-server on PATH):
    .venv/bin/python bench/rest.py --quick          # 100,000 tasks, a smoke run
    .venv/bin/python bench/rest.py --explain        # 1,000,000 tasks
    .venv/bin/python bench/rest.py --drop           # remove the seeded database
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleetcore.store.db import close_database, migrate, open_database
from rest_api.query import TASK_SORT_FIELDS
from tests.processes import PrivateRedis, fleethub, wait_http

DATABASE = "fleethub_bench_rest"
SEED_VERSION = 1
"""Bumped when the seeded rows change shape, so an older seed is not reused."""
DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
FLEETS = 5
ROBOTS_PER_FLEET = 10
REQUESTERS = 200
CATEGORIES = (("delivery", 50), ("patrol", 20), ("clean", 15), ("compose", 10), ("teleop", 5))
FINISHED = (("completed", 86), ("canceled", 6), ("failed", 4), ("killed", 2), ("skipped", 2))
OPEN = ("queued", "standby", "underway", "blocked", "delayed")
OPEN_TASKS = 300
"""Tasks not finished: the newest, as on a live site."""
PLACES = 40
LOG_DAYS = 30
LOG_ENTRIES = 8
POSITION_DAYS = 7
POSITION_STEP_MS = 30_000
EVENT_KINDS = (
    ("robot_offline", 10),
    ("robot_online", 10),
    ("robot_stale", 8),
    ("task_delayed", 20),
    ("issue_raised", 10),
    ("issue_cleared", 10),
    ("robot_error", 5),
    ("robot_error_cleared", 5),
    ("robot_stuck", 6),
    ("robot_unstuck", 6),
    ("task_reassigned", 5),
    ("task_failed", 5),
)
CHUNK = 20_000
"""Rows per COPY."""


def _weighted(choices: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    return [name for name, _ in choices], [weight for _, weight in choices]


def _robot(n: int) -> tuple[str, str]:
    return f"fleet_{n // ROBOTS_PER_FLEET}", f"robot_{n % ROBOTS_PER_FLEET:02d}"


@dataclass(frozen=True)
class Seed:
    """What the seeded database holds; a seed is reused only when all of it matches."""

    tasks: int
    now_ms: int

    def key(self) -> str:
        return f"v{SEED_VERSION} tasks={self.tasks}"

    def task_id(self, n: int) -> str:
        return f"task-{uuid.UUID(int=random.Random(n).getrandbits(128))}"

    def requested_ms(self, n: int) -> int:
        """Tasks are numbered oldest first, spread evenly over the year up to now."""
        return self.now_ms - YEAR_MS + (n * YEAR_MS) // self.tasks


def _task_state(task_id: str, row: dict[str, Any], labels: list[str]) -> str:
    """An RMF task state of a delivery's shape and size (about 700 bytes)."""
    assigned = (
        {"group": row["assigned_group"], "name": row["assigned_to"]} if row["assigned_to"] else None
    )
    booking = {
        "id": task_id,
        "unix_millis_request_time": row["unix_millis_request_time"],
        "requester": row["requester"],
        "labels": labels,
    }
    return orjson.dumps(
        {
            "booking": booking,
            "category": row["category"],
            "detail": {"pickup": labels[0] if labels else "", "dropoff": "ward"},
            "unix_millis_start_time": row["unix_millis_start_time"],
            "unix_millis_finish_time": row["unix_millis_finish_time"],
            "original_estimate_millis": 600_000,
            "estimate_millis": 0,
            "assigned_to": assigned,
            "status": row["status"],
            "dispatch": {"status": "dispatched"},
            "phases": {
                str(p): {"id": p, "category": "Go to place", "detail": f"phase {p}"}
                for p in range(1, 4)
            },
            "completed": [],
            "active": 0,
            "pending": [],
        }
    ).decode()


TASK_COLUMNS = (*TASK_SORT_FIELDS, "data", "seq")
"""The columns sorted on are task_state's first ones, in its order."""
LABEL_COLUMNS = ("task_id", "label_name", "label_value", "unix_millis_request_time")
LOG_COLUMNS = ("task_id", "phase", "event", "log_seq", "tier", "unix_millis_time", "text", "seq")
EVENT_COLUMNS = (
    "seq",
    "kind",
    "severity",
    "fleet",
    "robot",
    "task_id",
    "unix_millis_time",
    "data",
)
POSITION_COLUMNS = (
    "fleet",
    "robot",
    "unix_millis_time",
    "map",
    "x",
    "y",
    "yaw",
    "status",
    "battery",
)


def _task_rows(seed: Seed) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(table, row) for every task, its labels, its log (last 30 days) and an event, oldest first."""
    rng = random.Random(1)
    categories = _weighted(CATEGORIES)
    finished = _weighted(FINISHED)
    events = _weighted(EVENT_KINDS)
    robots = FLEETS * ROBOTS_PER_FLEET
    log_from = seed.now_ms - LOG_DAYS * DAY_MS
    for n in range(seed.tasks):
        task_id = seed.task_id(n)
        requested = seed.requested_ms(n)
        is_open = n >= seed.tasks - OPEN_TASKS
        status = rng.choice(OPEN) if is_open else rng.choices(*finished)[0]
        fleet, robot = _robot(rng.randrange(robots))
        unassigned = status in ("queued", "canceled") and rng.random() < 0.5
        start = None if status == "queued" else requested + rng.randrange(600_000)
        finish = None if is_open or start is None else start + rng.randrange(120_000, 1_200_000)
        labels = [f"pickup=pantry_{rng.randrange(PLACES)}", f"dropoff=ward_{rng.randrange(PLACES)}"]
        if rng.random() < 0.05:
            labels.append("priority=high")
        row = {
            "category": rng.choices(*categories)[0],
            "assigned_group": None if unassigned else fleet,
            "assigned_to": None if unassigned else robot,
            "status": status,
            "requester": f"user_{int(rng.paretovariate(1.2)) % REQUESTERS:03d}",
            "unix_millis_start_time": start,
            "unix_millis_finish_time": finish,
            "unix_millis_request_time": requested,
        }
        seq = 20 * n + 20
        yield "task_state", (task_id, *row.values(), _task_state(task_id, row, labels), seq)
        for label in labels:
            name, _, value = label.partition("=")
            yield "task_label", (task_id, name, value, requested)
        if requested >= log_from and start is not None:
            for k in range(LOG_ENTRIES):
                phase = None if k == 0 else str(1 + (k - 1) % 3)
                event = None if k < 4 else str(k - 4)
                at = start + k * 30_000
                yield "task_log_entry", (task_id, phase, event, k, "info", at, f"step {k}", seq + k)
        kind = rng.choices(*events)[0]
        time_ms = start or requested
        severity = "warning" if kind in ("robot_offline", "robot_stale", "task_delayed") else "info"
        data = orjson.dumps(
            {
                "kind": kind,
                "severity": severity,
                "unix_millis_time": time_ms,
                "fleet": fleet,
                "robot": robot,
                "task_id": task_id if kind.startswith("task_") else None,
                "detail": {"reason": kind},
            }
        ).decode()
        task_of_event = task_id if kind.startswith("task_") else None
        yield (
            "derived_event",
            (seq + 10, kind, severity, fleet, robot, task_of_event, time_ms, data),
        )


def _position_rows(seed: Seed) -> Iterator[tuple[str, tuple[Any, ...]]]:
    rng = random.Random(2)
    start = seed.now_ms - POSITION_DAYS * DAY_MS
    for r in range(FLEETS * ROBOTS_PER_FLEET):
        fleet, robot = _robot(r)
        for at in range(start, seed.now_ms, POSITION_STEP_MS):
            x, y = rng.uniform(0, 100), rng.uniform(0, 50)
            yield (
                "robot_position_sample",
                (fleet, robot, at, "L1", x, y, rng.uniform(-3.1, 3.1), "working", 0.8),
            )


COLUMNS = {
    "task_state": TASK_COLUMNS,
    "task_label": LABEL_COLUMNS,
    "task_log_entry": LOG_COLUMNS,
    "derived_event": EVENT_COLUMNS,
    "robot_position_sample": POSITION_COLUMNS,
}


def _database_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


async def prepare(admin_url: str, database: str, tasks: int) -> Seed:
    """The seeded database: reused when its seed matches, else made anew."""
    url = _database_url(admin_url, database)
    admin = await asyncpg.connect(admin_url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        seed = await _seed_of(url) if exists else None
        if seed is not None and seed.tasks == tasks:
            print(f"reusing the seed of {tasks:,} tasks in {database}", flush=True)
            await _migrate(url)
            return seed
        if exists:
            await admin.execute(f'DROP DATABASE "{database}"')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    await _migrate(url)
    seed = Seed(tasks, time.time_ns() // 1_000_000)
    await _seed(url, seed)
    return seed


async def _migrate(url: str) -> None:
    await open_database(url, apply_migrations=False, check=False)
    try:
        applied = await migrate()
    finally:
        await close_database()
    if applied:
        # What autovacuum does after a migration rewrote rows (0014 fills a column of
        # every label): statistics and the visibility map, for index-only scans.
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()


async def _seed_of(url: str) -> Seed | None:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow("SELECT key, tasks, now_ms FROM bench_seed")
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()
    if row is None:
        return None
    seed = Seed(row["tasks"], row["now_ms"])
    return seed if seed.key() == row["key"] else None


async def _seed(url: str, seed: Seed) -> None:
    conn = await asyncpg.connect(url)
    started = time.monotonic()
    try:
        batches: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS}

        async def flush(table: str) -> None:
            rows = batches[table]
            await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
            rows.clear()

        for rows in (_task_rows(seed), _position_rows(seed)):
            for table, row in rows:
                batches[table].append(row)
                if len(batches[table]) >= CHUNK:
                    await flush(table)
        for table in COLUMNS:
            await flush(table)
        last_seq = 20 * seed.tasks + 20
        await conn.execute(
            "INSERT INTO hub_meta (key, value) VALUES ('seq', $1), ('epoch', 1)", last_seq
        )
        copied = time.monotonic() - started
        # What autovacuum does after a bulk load: statistics and the visibility map.
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CREATE TABLE bench_seed (key text, tasks bigint, now_ms bigint)")
        await conn.execute(
            "INSERT INTO bench_seed VALUES ($1, $2, $3)", seed.key(), seed.tasks, seed.now_ms
        )
        counts = {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in COLUMNS}
    finally:
        await conn.close()
    print(
        f"seeded in {time.monotonic() - started:.0f} s (COPY {copied:.0f} s): "
        + ", ".join(f"{table} {count:,}" for table, count in counts.items()),
        flush=True,
    )


@dataclass(frozen=True)
class Read:
    """One kind of read: its REST paths, and the naive SQL it replaces (if any)."""

    name: str
    paths: Callable[[random.Random], str]
    naive: Callable[[random.Random], tuple[str, list[Any]]] | None = None


def _tasks(**params: object) -> str:
    return "/tasks?" + urlencode({key: str(value) for key, value in params.items()})


def reads(seed: Seed) -> list[Read]:
    """The dashboard's and rmf-web's reads, each with a generator of requests."""
    middle = seed.tasks // 2
    recent_tasks = max(seed.tasks // 365 * LOG_DAYS, 1)

    def any_task(rng: random.Random) -> str:
        return seed.task_id(rng.randrange(seed.tasks))

    def recent_task(rng: random.Random) -> str:
        return seed.task_id(seed.tasks - OPEN_TASKS - 1 - rng.randrange(recent_tasks - OPEN_TASKS))

    def robot(rng: random.Random) -> tuple[str, str]:
        return _robot(rng.randrange(FLEETS * ROBOTS_PER_FLEET))

    def day_range(rng: random.Random) -> str:
        start = seed.now_ms - rng.randrange(YEAR_MS - DAY_MS)
        return f"{start},{start + DAY_MS}"

    full = "SELECT data FROM task_state"
    requested_desc = "ORDER BY unix_millis_request_time DESC, id"
    return [
        Read(
            "dashboard first page",
            lambda rng: _tasks(limit=20, offset=0, order_by="-unix_millis_request_time"),
            lambda rng: (f"{full} {requested_desc} LIMIT 20", []),
        ),
        Read(
            "dashboard page from the middle",
            lambda rng: _tasks(
                limit=20, offset=middle + rng.randrange(1000), order_by="-unix_millis_request_time"
            ),
            lambda rng: (
                f"{full} {requested_desc} LIMIT 20 OFFSET $1",
                [middle + rng.randrange(1000)],
            ),
        ),
        Read(
            "dashboard middle page, keyset",
            # Request times grow with the task number: the task at k, newest first.
            lambda rng: _tasks(
                limit=20,
                after=seed.task_id(seed.tasks - 1 - middle - rng.randrange(1000)),
                order_by="-unix_millis_request_time",
            ),
            lambda rng: (
                f"{full} {requested_desc} LIMIT 20 OFFSET $1",
                [middle + 1 + rng.randrange(1000)],
            ),
        ),
        Read(
            "rmf-web default page (by id)",
            lambda rng: _tasks(limit=100, offset=0),
            lambda rng: (f"{full} ORDER BY id LIMIT 100", []),
        ),
        Read(
            "rmf-web page by id, middle",
            lambda rng: _tasks(limit=100, offset=middle + rng.randrange(1000)),
            lambda rng: (
                f"{full} ORDER BY id LIMIT 100 OFFSET $1",
                [middle + rng.randrange(1000)],
            ),
        ),
        Read(
            "status=failed by start time",
            lambda rng: _tasks(status="failed", order_by="-unix_millis_start_time", limit=100),
            lambda rng: (
                f"{full} WHERE status = ANY($1) ORDER BY unix_millis_start_time DESC, id LIMIT 100",
                [["failed"]],
            ),
        ),
        Read(
            "status=queued,underway (open)",
            lambda rng: _tasks(status="queued,underway", order_by="-unix_millis_request_time"),
        ),
        Read(
            "robot's tasks by finish time",
            lambda rng: _tasks(
                assigned_to=robot(rng)[1], order_by="-unix_millis_finish_time", limit=50
            ),
        ),
        Read(
            "category + requester",
            lambda rng: _tasks(
                category="patrol",
                requester=f"user_{rng.randrange(20):03d}",
                order_by="-unix_millis_request_time",
            ),
            lambda rng: (
                f"{full} WHERE category = $1 AND requester = $2 {requested_desc} LIMIT 100",
                ["patrol", f"user_{rng.randrange(20):03d}"],
            ),
        ),
        Read(
            "label filter",
            lambda rng: _tasks(
                label=f"pickup=pantry_{rng.randrange(PLACES)}",
                order_by="-unix_millis_request_time",
                limit=50,
            ),
            lambda rng: (
                f"{full} WHERE id IN (SELECT task_id FROM task_label WHERE label_name = $1"
                f" AND label_value = $2) {requested_desc} LIMIT 50",
                ["pickup", f"pantry_{rng.randrange(PLACES)}"],
            ),
        ),
        Read(
            "two labels, rare",
            lambda rng: _tasks(
                label=f"priority=high,dropoff=ward_{rng.randrange(PLACES)}",
                order_by="-unix_millis_request_time",
                limit=50,
            ),
        ),
        Read(
            "sorted by a label",
            lambda rng: _tasks(order_by="label=pickup", limit=20),
        ),
        Read(
            "request time, a day",
            lambda rng: _tasks(request_time_between=day_range(rng), limit=100),
        ),
        Read(
            "finish time, a day, by finish",
            lambda rng: _tasks(
                finish_time_between=day_range(rng), order_by="unix_millis_finish_time", limit=100
            ),
        ),
        Read(
            "task_id list (20)",
            lambda rng: _tasks(task_id=",".join(any_task(rng) for _ in range(20))),
        ),
        Read("a task's log", lambda rng: f"/tasks/{recent_task(rng)}/log?between=0,{2**62}"),
        Read(
            "/events newest page",
            lambda rng: "/events?limit=100",
        ),
        Read(
            "/events keyset page back",
            lambda rng: f"/events?limit=100&before={20 * (rng.randrange(seed.tasks) + 1) + 10}",
        ),
        Read(
            "/events link kinds (dashboard)",
            lambda rng: "/events?kind=robot_online,robot_stale,robot_offline&limit=1000",
        ),
        Read(
            "/events a robot, keyset back",
            lambda rng: (
                "/events?"
                + urlencode(
                    {
                        "fleet": robot(rng)[0],
                        "robot": robot(rng)[1],
                        "before": 20 * (rng.randrange(seed.tasks) + 1),
                        "limit": 100,
                    }
                )
            ),
        ),
        Read("/events a day", lambda rng: f"/events?between={day_range(rng)}&limit=100"),
        Read(
            "a robot's history (an hour)",
            lambda rng: "/robots/{}/{}/history?between={},{}".format(
                *robot(rng),
                seed.now_ms - (hour := rng.randrange(1, 7 * 24)) * 3_600_000,
                seed.now_ms - (hour - 1) * 3_600_000,
            ),
        ),
    ]


@dataclass
class Figures:
    p50_ms: float
    p99_ms: float
    errors: int


def _figures(samples: list[float], errors: int) -> Figures:
    ordered = sorted(samples) or [0.0]
    return Figures(
        ordered[len(ordered) // 2] * 1000,
        ordered[min(int(len(ordered) * 0.99), len(ordered) - 1)] * 1000,
        errors,
    )


async def steady(
    send: Callable[[random.Random], Awaitable[bool]], clients: int, rate: float, seconds: float
) -> Figures:
    """``clients`` workers sending ``rate`` requests/s in all, evenly spaced; latency from send.

    A worker behind its schedule sends at once (the load stays the offered one,
    not slowed by the server), so a slow query queues as it would on a site; none is
    sent after the window, so a slow baseline costs ``seconds``, not its backlog.
    """
    samples: list[float] = []
    errors = 0
    interval = clients / rate
    started = time.monotonic()

    async def worker(index: int) -> None:
        nonlocal errors
        rng = random.Random(index)
        due = started + index * interval / clients
        while due < started + seconds and time.monotonic() < started + seconds:
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.monotonic()
            if await send(rng):
                samples.append(time.monotonic() - sent)
            else:
                errors += 1
            due += interval

    await asyncio.gather(*(worker(i) for i in range(clients)))
    return _figures(samples, errors)


async def run(args: argparse.Namespace, seed: Seed, tmp: Path) -> None:
    redis = await PrivateRedis(tmp).start()
    env = {
        **os.environ,
        "FLEETHUB_DATABASE_URL": _database_url(args.database_url, args.database)
        + (f"?maxsize={args.api_pool}" if args.api_pool else ""),
        "FLEETHUB_REDIS_URL": redis.url,
        "FLEETHUB_API_PORT": "0",
        "FLEETHUB_AUTH_MODE": "off",
        "FLEETHUB_LOG_LEVEL": "WARNING",
    }
    api = await fleethub("api", "api", env, tmp).start()
    pool = await asyncpg.create_pool(
        _database_url(args.database_url, args.database),
        min_size=args.clients,
        max_size=args.clients,
    )
    try:
        base = await api.url("api")
        await wait_http(base + "/healthz")
        connector = aiohttp.TCPConnector(limit=args.clients)
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as http:

            async def rest(path: str) -> bool:
                try:
                    async with http.get(path) as response:
                        await response.read()
                        return response.status == 200
                except TimeoutError:
                    return False

            results: list[tuple[Read, Figures, Figures | None]] = []
            print(
                f"\n{args.clients} clients, {args.rate:.0f} requests/s, {args.seconds:.0f} s each;"
                " ms; naive = the SQL it replaces, straight to PostgreSQL\n"
                f"{'read':<34}{'p50':>8}{'p99':>8}{'naive p50':>11}{'naive p99':>11}"
                f"{'p99 ratio':>11}",
                flush=True,
            )
            for read in reads(seed):
                if args.only and not any(part in read.name for part in args.only.split(",")):
                    continue
                if args.skip and any(part in read.name for part in args.skip.split(",")):
                    continue
                await rest(read.paths(random.Random(0)))
                figures = await steady(
                    lambda rng, read=read: rest(read.paths(rng)),  # type: ignore[misc]
                    args.clients,
                    args.rate,
                    args.seconds,
                )
                naive = None
                if read.naive is not None and not args.no_naive:
                    naive = await steady(
                        lambda rng, read=read: _sql(pool, read, rng),  # type: ignore[misc]
                        args.clients,
                        args.rate,
                        args.seconds,
                    )
                results.append((read, figures, naive))
                print(_line(read, figures, naive), flush=True)
            if args.explain:
                await explain(pool, _database_url(args.database_url, args.database), results)
    finally:
        await pool.close()
        await api.stop()
        await redis.stop()


async def _sql(pool: asyncpg.Pool, read: Read, rng: random.Random) -> bool:
    assert read.naive is not None
    sql, params = read.naive(rng)
    await pool.fetch(sql, *params)
    return True


def _line(read: Read, figures: Figures, naive: Figures | None) -> str:
    line = f"{read.name:<34}{figures.p50_ms:8.1f}{figures.p99_ms:8.1f}"
    if naive is not None:
        ratio = naive.p99_ms / figures.p99_ms if figures.p99_ms else 0.0
        line += f"{naive.p50_ms:11.1f}{naive.p99_ms:11.1f}{ratio:10.1f}x"
    if figures.errors:
        line += f"  ({figures.errors} failed or timed out)"
    return line


async def explain(
    pool: asyncpg.Pool, url: str, results: list[tuple[Read, Figures, Figures | None]]
) -> None:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of the three slowest task list reads, as the API writes
    them (the SQL of its own query builder), and of the naive SQL each replaces."""
    await open_database(url, apply_migrations=False, check=False)
    try:
        tasks = [
            result for result in results if result[0].paths(random.Random(0)).startswith("/tasks?")
        ]
        for read, figures, naive in sorted(tasks, key=lambda r: r[1].p99_ms, reverse=True)[:3]:
            print(f"\n== {read.name}: p99 {figures.p99_ms:.1f} ms")
            path = read.paths(random.Random(0))
            await _explain(pool, *_rest_sql(path))
            if naive is not None and read.naive is not None:
                print("-- naive:")
                await _explain(pool, *read.naive(random.Random(0)))
    finally:
        await close_database()


async def _explain(pool: asyncpg.Pool, sql: str, params: list[Any]) -> None:
    plan = await pool.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
    print(sql if not params else f"{sql}  -- {params}")
    print("\n".join(row[0] for row in plan), flush=True)


def _rest_sql(path: str) -> tuple[str, list[Any]]:
    """The SQL ``GET /tasks`` runs for ``path``, as an admin (auth off) sends it."""
    from urllib.parse import parse_qsl, urlsplit

    from fleetcore.auth import admin_principal
    from rest_api.query import TaskQuery, now_ms
    from rest_api.routes.tasks import _task_query

    raw = dict(parse_qsl(urlsplit(path).query))
    query = TaskQuery.model_validate(raw, context={"now_ms": now_ms()})
    tasks = _task_query(query, admin_principal("bench"))
    tasks._choose_db_if_not_chosen()
    tasks._make_query()
    sql, params = tasks.query.get_parameterized_sql()
    return sql, list(params)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--database", default=DATABASE, help="the seeded database's name (one per seed kept)"
    )
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 tasks, 2 s per read")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s per read")
    parser.add_argument("--seconds", type=float, default=5.0, help="per read")
    parser.add_argument(
        "--only", default="", help="only the reads whose name has one of these (comma separated)"
    )
    parser.add_argument(
        "--skip", default="", help="leave out the reads whose name has one of these"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="s; a request this slow counts as an error"
    )
    parser.add_argument(
        "--api-pool",
        type=int,
        default=0,
        help="the API's database connections (the URL's maxsize); 0: the API's default",
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the baselines")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--drop", action="store_true", help="drop the seeded database and stop")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.seconds = 100_000, 2.0
    asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> None:
    if args.drop:
        admin = await asyncpg.connect(args.database_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
        await admin.close()
        return
    seed = await prepare(args.database_url, args.database, args.tasks)
    tmp = Path(tempfile.mkdtemp(prefix="fleethub-bench-rest-"))
    try:
        await run(args, seed, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
