"""Fixtures shared by the whole suite: settings on a temp dir, the stores, a running embedded system.

The stores are the ones a pass claims: SQLite and the in-process bus in the
first pass; PostgreSQL (a schema per test) and Redis (a key prefix per test)
when ``FLEETHUB_TEST_DATABASE_URL`` / ``FLEETHUB_TEST_REDIS_URL`` are set. A
test that touches the database takes ``database`` (the tables the migrations
create, in the test's own database) and, to play the hub, ``bus``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pkgutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, overload

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api.sqlmigrate import sqlmigrate

from fleetcore.bus import Bus, bus_from_settings
from fleetcore.settings import Settings
from fleetcore.store import migrations
from fleetcore.store.db import APP, close_database, open_database, tortoise_config
from tests.helpers import JWT_SECRET, TEST_SITE_TOKEN
from tests.migrated import seed
from tests.ports import HeldPort
from tests.processes import Process

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


@pytest.fixture(autouse=True)
def _forget_queries() -> Iterator[None]:
    """tortoise caches each model's INSERT by connection name and table, not by dialect; a few
    tests open SQLite in the PostgreSQL pass, so the next test must not reuse their SQL."""
    yield
    EXECUTOR_CACHE.clear()


@pytest.fixture(autouse=True)
def _no_process_left() -> Iterator[None]:
    """A test stops every process it started, even when it fails."""
    kept = set(Process.started)
    yield
    left = Process.kill_leftovers(kept)
    assert not left, f"the test left these processes running (now killed): {left}"


TEST_DATABASE_URL = os.environ.get("FLEETHUB_TEST_DATABASE_URL", "")
"""PostgreSQL to run the suite against (each test in its own schema); empty: SQLite."""
TEST_REDIS_URL = os.environ.get("FLEETHUB_TEST_REDIS_URL", "")
"""Redis to run the suite against (each test under its own key prefix); empty: in-process bus."""
STORE = "postgresql" if TEST_DATABASE_URL else "sqlite"
"""The database of this pass; tests on the database carry it in their ids (``test_x[postgresql]``)."""


def pytest_report_header() -> list[str]:
    database = "PostgreSQL, a schema per test" if TEST_DATABASE_URL else "SQLite, a file per test"
    bus = "Redis, a key prefix per test" if TEST_REDIS_URL else "the in-process bus"
    return [f"stores: {database}; {bus}"]


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


@pytest.fixture(scope="session")
def migrations_sql() -> str:
    """The SQL of every migration, in order, in this pass's dialect; collected once per session.

    Running it builds the schema ``fleethub migrate`` builds (tests/test_schema.py proves
    both equal, and equal to the models) in a few statements instead of the migration
    machinery's many round trips.
    """
    names = sorted(module.name for module in pkgutil.iter_modules(migrations.__path__))
    config = tortoise_config(TEST_DATABASE_URL or "sqlite://:memory:")

    async def collect() -> str:
        statements: list[str] = []
        for name in names:
            statements += await sqlmigrate(config=config, app_label=APP, migration_name=name)
        await Tortoise.close_connections()
        # tortoise leaves an ALTER TABLE without its semicolon: a script needs every one.
        return "\n".join(s if s.rstrip().endswith(";") else s.rstrip() + ";" for s in statements)

    return asyncio.run(collect())


@contextlib.asynccontextmanager
async def opened_database(settings: Settings, migrations_sql: str) -> AsyncIterator[None]:
    """``settings``'s database, open, with the tables the migrations create."""
    await open_database(settings.resolved_database_url, apply_migrations=False, check=False)
    try:
        await Tortoise.get_connection("default").execute_script(migrations_sql)
        yield
    finally:
        await close_database()


@pytest.fixture(params=[STORE])
async def database(settings: Settings, migrations_sql: str) -> AsyncIterator[None]:
    """The test's own database (``settings``'s), open, with the tables the migrations create."""
    async with opened_database(settings, migrations_sql):
        yield


@contextlib.asynccontextmanager
async def started_bus(settings: Settings) -> AsyncIterator[Bus]:
    bus = bus_from_settings(settings)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.aclose()


@pytest.fixture
async def bus(settings: Settings) -> AsyncIterator[Bus]:
    """The pass's bus, started: in-process, or Redis under the test's key prefix."""
    async with started_bus(settings) as started:
        yield started


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
    return suite_settings(tmp_path, database_url, redis_prefix)


def suite_settings(directory: Path, database_url: str, redis_prefix: str) -> Settings:
    """The settings of :func:`settings`, for a fixture of a wider scope."""
    return Settings(
        auth_mode="off",
        data_dir=directory,
        database_url=database_url,
        redis_url=TEST_REDIS_URL,
        redis_prefix=redis_prefix,
        sim_auto_tasks_s=0,
        ingest_token=TEST_SITE_TOKEN,
    )


@pytest.fixture
def held_port() -> Iterator[HeldPort]:
    """A loopback port the test keeps while a server on it stops and starts (tests/ports.py)."""
    held = HeldPort()
    yield held
    held.close()


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    """``settings`` with authentication on, HS256 tokens signed with :data:`JWT_SECRET`."""
    return authenticated(settings)


def authenticated(settings: Settings) -> Settings:
    """``settings`` with authentication on, HS256 tokens signed with :data:`JWT_SECRET`."""
    return settings.replace(auth_mode="jwt", jwt_secret=JWT_SECRET)


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


class _ServedLikeProduction(TestServer):
    """A test server whose handlers run on when their client leaves, as under ``fleethub``'s
    runner (aiohttp's test server cancels them instead, which hides what a drop does)."""

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        return await super()._make_runner(**{**kwargs, "handler_cancellation": False})


async def start_server(app: web.Application, *, cancel_on_drop: bool = True) -> TestServer:
    """``app`` on a loopback port; ``cancel_on_drop=False`` serves it as production does."""
    server = (TestServer if cancel_on_drop else _ServedLikeProduction)(
        app, host="127.0.0.1", port=0
    )
    await server.start_server()
    return server


async def start_embedded(settings: Settings) -> TestServer:
    """The embedded system (fleethub.embedded) without its simulator, on a real loopback port.

    A new database starts as a copy of one the migrations built (tests/migrated.py).
    """
    from fleethub.embedded import create_app

    await seed(settings.resolved_database_url, TEST_DATABASE_URL)
    return await start_server(create_app(settings))


@pytest.fixture
async def embedded(settings: Settings) -> AsyncIterator[TestServer]:
    """The embedded system without its simulator, on a real loopback port."""
    server = await start_embedded(settings)
    try:
        yield server
    finally:
        await server.close()
