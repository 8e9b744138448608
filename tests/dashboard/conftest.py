"""A real ``fleethub up`` and Debian's headless Chromium, shared by every browser test here.

One browser serves the modules of this package, and one site the modules that leave it as
others expect it (starting the site and waiting for every robot is the costly part): a robot a
test stops it starts again, and what it adds (alerts, media) no other module counts.
test_browser.py dispatches tasks and adds users, so it starts a site of its own.

The browser is driven by Playwright with ``executable_path``; Playwright never
downloads a browser here. Without Chromium (or the playwright package) the
browser tests skip and say how to get them.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.conftest import TEST_REDIS_URL, fresh_database_url, fresh_redis_prefix
from tests.processes import Process, fleethub, wait_http

CHROMIUM = os.environ.get("FLEETHUB_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
SITE_ENV = {
    # Fast robots and a quick offline verdict keep the whole browser suite short.
    "FLEETHUB_SIM_ROBOT_SPEED_MPS": "5",
    # The VDA 5050 vehicles bid for tasks that name no fleet (the dashboard's): as fast.
    "FLEETHUB_VDA5050_SIM_SPEED_MPS": "5",
    "FLEETHUB_VDA5050_SIM_ACTION_S": "0.5",
    # Only the tests' tasks, and no hand-over failures: a task's course is then theirs alone.
    "FLEETHUB_SIM_AUTO_TASKS_S": "0",
    "FLEETHUB_SIM_TASK_FAILURE_PROBABILITY": "0",
    "FLEETHUB_DERIVE_STALE_S": "1",
    "FLEETHUB_DERIVE_OFFLINE_S": "2",
    "FLEETHUB_DERIVE_RESTART_GRACE_S": "0",
}
SIM_ROBOTS = 10
"""``fleethub up``'s default simulated site..."""
VDA_VEHICLES = 3
"""...and its simulated VDA 5050 vehicles, fleet ``vda5050``, listed beside them."""
_PASSWORD = re.compile(r"^\s*password:\s*(\S+)\s*$", re.MULTILINE)


def browser_missing() -> str:
    """Why the browser tests cannot run here, or "" when they can."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install -e '.[test]'"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (scripts/test does it as root)"
    return ""


@dataclass
class Site:
    """The running ``fleethub up``: its URL, the simulator's control URL, the first admin's login."""

    base: str
    control: str
    process: Process
    admin_password: str | None
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    """Authorization headers by username: one login each serves the whole module (logins are
    rate-limited per address and user)."""


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """The site the browser modules share (a module that needs one of its own overrides this)."""
    async with running_site(tmp_path_factory) as started:
        yield started


@asynccontextmanager
async def running_site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """``fleethub up`` with authentication on: SQLite and the in-process bus, or, in the
    suite's second pass, a fresh PostgreSQL schema and Redis key prefix."""
    work = tmp_path_factory.mktemp("fleethub-up")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETHUB_")}
    async with fresh_database_url(work) as database_url, fresh_redis_prefix() as prefix:
        env |= {
            **SITE_ENV,
            "FLEETHUB_DATA_DIR": str(work),
            "FLEETHUB_DATABASE_URL": database_url,
            "FLEETHUB_REDIS_URL": TEST_REDIS_URL,
            "FLEETHUB_REDIS_PREFIX": prefix,
            "FLEETHUB_API_PORT": "0",
            "FLEETHUB_SIM_CONTROL_PORT": "-1",
        }
        process = await fleethub("up", "up", env, work).start()
        try:
            base = await process.url("api")
            await wait_http(base + "/healthz", timeout=30)
            found = _PASSWORD.search(process.log())
            control = await process.url("sim_control")
            site = Site(base, control, process, found and found.group(1))
            await _every_robot_reported(site)
            yield site
        finally:
            code = await process.stop()
            assert code == 0, process.output()


async def bearer(
    site: Site, username: str = "admin", password: str | None = None
) -> dict[str, str]:
    """The Authorization header of a login, or none when the site runs without auth."""
    password = password or site.admin_password
    if password is None:
        return {}
    if username not in site.headers:
        async with aiohttp.ClientSession() as session:
            body = {"username": username, "password": password}
            async with session.post(site.base + "/auth/token", json=body) as resp:
                assert resp.status == 200, await resp.text()
                token = (await resp.json())["access_token"]
        site.headers[username] = {"Authorization": f"Bearer {token}"}
    return site.headers[username]


async def _every_robot_reported(site: Site, timeout: float = 30.0) -> None:
    """Wait until the simulated site is connected and every robot reported: the tests may command it."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(headers=await bearer(site)) as session:
        while True:
            async with session.get(site.base + "/fleets") as resp:
                fleets = await resp.json() if resp.status == 200 else []
            if sum(len(fleet["robots"]) for fleet in fleets) == SIM_ROBOTS + VDA_VEHICLES:
                return
            assert time.monotonic() < deadline, f"not every robot reported: {fleets}"
            await asyncio.sleep(0.2)


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@asynccontextmanager
async def open_page(browser: Any, **context: Any) -> AsyncIterator[Any]:
    """A page in a browser context of its own (``context``: Playwright's options, e.g. a phone's
    viewport and touch); the test fails if the page threw."""
    opened = await browser.new_context(**context)
    page = await opened.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        await opened.close()
    assert not errors, f"the page threw: {errors}"


def browser_tests() -> list[pytest.MarkDecorator]:
    """The marks of a module of browser tests: integration, skipped without Chromium, and run on
    the module's event loop (its ``site`` and ``browser`` live there)."""
    return [
        pytest.mark.integration,
        pytest.mark.skipif(bool(browser_missing()), reason=browser_missing() or "ready"),
        pytest.mark.asyncio(loop_scope="package"),
    ]
