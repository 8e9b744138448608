"""A writer (or a hub's leading) that cannot go on is reported and ends its process; SIGTERM
always ends it.

Real ``fleethub up`` and ``fleethub hub`` processes, on a SQLite file or a
PostgreSQL schema, which the tests break (a dropped table: every write is
refused) or hold (a lock: every write waits).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.store import models
from fleetcore.store.db import close_database, open_database
from tests.conftest import eventually
from tests.helpers import TEST_SITE_TOKEN, IngestClient, fleet
from tests.processes import PrivateRedis, Process, fleethub, wait_http

EXIT_DEADLINE_S = 60.0
"""Generous: a process that ends at all ends within seconds."""


def _postgres(url: str) -> tuple[str, str]:
    """The server URL without the schema, and the schema of a test database URL."""
    parts = urlsplit(url)
    schema = parse_qs(parts.query)["schema"][0]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), schema


async def drop_outbox(database_url: str) -> None:
    """Break the database under the hub: every batch writes the outbox."""
    if database_url.startswith("sqlite://"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite://"))) as db:
            db.execute("DROP TABLE outbox")
            db.commit()
        return
    server, schema = _postgres(database_url)
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP TABLE "{schema}".outbox')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def database_held(database_url: str) -> AsyncIterator[Any]:
    """Hold the database so every write waits: an exclusive SQLite transaction, or a lock on
    the row every batch updates. Yields a probe: whether a write of the hub is waiting."""
    if database_url.startswith("sqlite://"):
        db = sqlite3.connect(database_url.removeprefix("sqlite://"), isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        try:
            yield None
        finally:
            db.close()
        return
    server, schema = _postgres(database_url)
    holder = await asyncpg.connect(server)
    watcher = await asyncpg.connect(server)
    try:
        async with holder.transaction():
            await holder.execute(f'LOCK TABLE "{schema}".hub_meta IN ACCESS EXCLUSIVE MODE')

            async def waiting() -> bool:
                count = await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND query ILIKE '%hub_meta%'"
                )
                return bool(count)

            yield waiting
    finally:
        await watcher.close()
        await holder.close()


async def ended(process: Process) -> int:
    assert process.proc is not None
    try:
        return await asyncio.wait_for(process.proc.wait(), EXIT_DEADLINE_S)
    except TimeoutError:
        raise AssertionError(
            f"{process.name} did not end within {EXIT_DEADLINE_S}s:\n{process.output()}"
        ) from None


def env_for(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "FLEETHUB_DATA_DIR": str(tmp_path),
        "FLEETHUB_DATABASE_URL": database_url,
        "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
        "FLEETHUB_SIM_ROBOTS": "1",
        "FLEETHUB_SIM_AUTO_TASKS_S": "0",
        **extra,
    }


@pytest.fixture
async def up(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[Process, str]]:
    process = fleethub("up", "up", env_for(tmp_path, database_url, FLEETHUB_API_PORT="0"), tmp_path)
    await process.start()
    try:
        base = await process.url("api")
        await wait_http(base + "/readyz", timeout=60)
        yield process, base
    finally:
        await process.stop()


async def readiness(base: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(base + "/readyz") as resp:
        return resp.status, await resp.json()


async def test_readyz_reports_a_writer_that_stopped_with_its_reason(
    embedded: TestServer, database_url: str
) -> None:
    base = str(embedded.make_url("")).rstrip("/")
    await drop_outbox(database_url)

    async with IngestClient(base) as site:
        await site.send("fleet_state_update", fleet("f", {"r1": (0.0, 0.0)}))

        async def not_ready() -> dict[str, Any] | None:
            status, body = await readiness(base)
            return body if status == 503 else None

        body = await eventually(not_ready, timeout=30)
    [problem] = body["problems"]
    assert problem.startswith("hub: the writer stopped: WriterFailed: the database refuses")
    async with aiohttp.ClientSession() as session:
        url = base.replace("http", "ws", 1) + f"/_internal?token={TEST_SITE_TOKEN}"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
    assert refused.value.status == 503


@pytest.mark.integration
async def test_fleethub_up_ends_with_an_error_when_its_writer_cannot_go_on(
    up: tuple[Process, str], database_url: str
) -> None:
    process, _ = up
    await drop_outbox(database_url)  # the simulator's next fleet state fails to commit

    assert await ended(process) == 1
    output = process.log()
    assert "ERROR fleethub.hub: the hub writer stopped and cannot go on" in output
    assert "fleethub: the database refuses every write" in output


@pytest.mark.integration
async def test_fleethub_hub_ends_with_an_error_and_hands_its_lease_over(
    tmp_path: Path, database_url: str
) -> None:
    redis = await PrivateRedis(tmp_path).start()
    env = env_for(
        tmp_path,
        database_url,
        FLEETHUB_REDIS_URL=redis.url,
        FLEETHUB_HUB_PORT="0",
        FLEETHUB_HUB_NAME="hub-under-test",
    )
    hub = fleethub("hub", "hub", env, tmp_path)
    try:
        migrate = await fleethub("migrate", "migrate", env, tmp_path).start()
        assert await ended(migrate) == 0, migrate.output()
        await hub.start()
        base = await hub.url("hub")
        await wait_http(base + "/readyz", timeout=60)
        await drop_outbox(database_url)
        async with IngestClient(base) as site:
            await site.send("fleet_state_update", fleet("f", {"r1": (0.0, 0.0)}))
            assert await ended(hub) == 1
    finally:
        await hub.stop()
        await redis.stop()
    output = hub.log()
    assert "ERROR fleethub.hub: the hub writer stopped and cannot go on" in output
    assert "hub-under-test handed the leadership lease over" in output


@pytest.mark.integration
async def test_sigterm_ends_fleethub_up_while_its_writer_waits_for_the_database(
    up: tuple[Process, str], database_url: str
) -> None:
    process, _ = up
    async with database_held(database_url) as waiting:
        try:
            if waiting is None:  # SQLite: the writer says when its commit failed on the lock
                await eventually(
                    lambda: "committing a batch failed" in process.log(),
                    timeout=EXIT_DEADLINE_S,
                )
            else:
                await eventually(waiting, timeout=EXIT_DEADLINE_S)
        except AssertionError as missed:
            raise AssertionError(f"the writer never waited:\n{process.output()}") from missed
        process.signal(signal.SIGTERM)

        assert await ended(process) == 0
    assert "Traceback" not in process.log()


@pytest.mark.integration
async def test_fleethub_hub_that_cannot_start_leading_says_why_at_once_and_ends(
    tmp_path: Path, database_url: str
) -> None:
    redis = await PrivateRedis(tmp_path).start()
    env = env_for(tmp_path, database_url, FLEETHUB_REDIS_URL=redis.url, FLEETHUB_HUB_PORT="0")
    hub = fleethub("hub", "hub", env, tmp_path)
    try:
        migrate = await fleethub("migrate", "migrate", env, tmp_path).start()
        assert await ended(migrate) == 0, migrate.output()
        # A queued task whose stored state is no JSON: the derive restore fails on it.
        await open_database(database_url, apply_migrations=False)
        await models.TaskState.create(id="t1", status="queued", data="{not json", seq=1)
        await close_database()
        await hub.start()

        assert await ended(hub) == 1
    finally:
        await hub.stop()
        await redis.stop()
    output = hub.log()
    assert "ERROR fleethub.hub: the hub cannot lead and the process ends to be restarted" in output
