"""Fixtures shared by the whole suite: settings on a temp dir, a running embedded system."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, overload

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from fleetcore.settings import Settings
from tests.helpers import TEST_SITE_TOKEN

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No FLEETHUB_* from the developer's shell leaks into a test, except the backends CI picks."""
    for key in list(os.environ):
        if key.startswith("FLEETHUB_") and key not in (
            "FLEETHUB_TEST_DATABASE_URL",
            "FLEETHUB_TEST_REDIS_URL",
        ):
            monkeypatch.delenv(key)


TEST_DATABASE_URL = os.environ.get("FLEETHUB_TEST_DATABASE_URL", "")
"""PostgreSQL to run the suite against (each test in its own schema); empty: SQLite."""
TEST_REDIS_URL = os.environ.get("FLEETHUB_TEST_REDIS_URL", "")
"""Redis to run the suite against (each test under its own key prefix); empty: in-process bus."""


@contextlib.asynccontextmanager
async def fresh_database_url(directory: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file in ``directory``, or a PostgreSQL schema."""
    if not TEST_DATABASE_URL:
        yield f"sqlite://{directory}/fleethub.sqlite3"
        return
    import asyncpg

    schema = "test_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        yield TEST_DATABASE_URL + ("&" if "?" in TEST_DATABASE_URL else "?") + f"schema={schema}"
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


@contextlib.asynccontextmanager
async def fresh_redis_prefix() -> AsyncIterator[str]:
    """A key prefix nothing else uses; its keys are deleted afterwards."""
    prefix = "fleethub-test-" + uuid.uuid4().hex[:12]
    yield prefix
    if TEST_REDIS_URL:
        from redis.asyncio import Redis

        client = Redis.from_url(TEST_REDIS_URL)
        keys = [key async for key in client.scan_iter(match=prefix + ":*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database for one test: a SQLite file, or a PostgreSQL schema."""
    async with fresh_database_url(tmp_path) as url:
        yield url


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    async with fresh_redis_prefix() as prefix:
        yield prefix


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_prefix: str) -> Settings:
    """Embedded defaults on a temp dir, or PostgreSQL + Redis when the TEST URLs are set.

    Authentication is off: tests about auth (tests/auth) turn it on themselves.
    """
    return Settings(
        auth_mode="off",
        data_dir=tmp_path,
        database_url=database_url,
        redis_url=TEST_REDIS_URL,
        redis_prefix=redis_prefix,
        sim_auto_tasks_s=0,
        ingest_token=TEST_SITE_TOKEN,
    )


@overload
async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout: float = ..., interval: float = ...
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T], *, timeout: float = ..., interval: float = ...
) -> T: ...


async def eventually(
    probe: Callable[[], Awaitable[T] | T], *, timeout: float = 5.0, interval: float = 0.02
) -> T:
    """Poll ``probe`` until it returns a truthy value, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        result = probe()
        last = await result if asyncio.iscoroutine(result) else result
        if last:
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
        await asyncio.sleep(interval)


async def start_server(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return server


@pytest.fixture
async def embedded(settings: Settings) -> AsyncIterator[TestServer]:
    """The embedded system without its simulator, on a real loopback port."""
    from fleethub.embedded import create_app

    server = await start_server(create_app(settings))
    try:
        yield server
    finally:
        await server.close()
