"""The dashboard in headless Chromium against a real ``fleethub up``: what an operator sees and does.

Screenshots go to ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.dashboard.conftest import (
    ARTIFACTS,
    SIM_ROBOTS,
    VDA_VEHICLES,
    Site,
    bearer,
    browser_tests,
    open_page,
    running_site,
)

expect = pytest.importorskip(
    "playwright.async_api", reason="the playwright package is missing: pip install -e '.[test]'"
).expect

pytestmark = browser_tests()

VIEWPORT = {"width": 1400, "height": 820}
TASK_TIMEOUT_MS = 60_000


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """A site of this module's own: its tasks, users and alerts would show in the views other
    modules measure (a task's link in test_mobile.py's robots' table)."""
    async with running_site(tmp_path_factory) as started:
        yield started


@pytest_asyncio.fixture(loop_scope="package")
async def page(browser: Any) -> AsyncIterator[Any]:
    async with open_page(browser, viewport=VIEWPORT) as page:
        yield page


async def log_in(
    page: Any, site: Site, username: str = "admin", password: str | None = None
) -> None:
    """Open the dashboard and log in when it asks; return once the map shows robots."""
    await page.goto(site.base + "/")
    form = page.locator("[data-testid=login]")
    robots = page.locator("[data-testid=map] [data-robot]")
    await form.or_(robots.first).wait_for()
    if await form.is_visible():
        await form.locator("input[name=username]").fill(username)
        await form.locator("input[name=password]").fill(password or site.admin_password or "")
        await form.locator("button[type=submit]").click()
    await robots.first.wait_for()


def _artifact(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=_artifact(name))


async def control(site: Site, fleet: str, robot: str, action: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{site.control}/robots/{fleet}/{robot}/{action}") as resp:
            assert resp.status == 204, await resp.text()


async def dispatch(site: Site, request: dict[str, Any]) -> dict[str, Any]:
    """Dispatch a task over REST, as a script would; return its first state."""
    async with aiohttp.ClientSession(headers=await bearer(site)) as session:
        body = {"type": "dispatch_task_request", "request": request}
        async with session.post(site.base + "/tasks/dispatch_task", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return (await resp.json())["state"]  # type: ignore[no-any-return]


async def test_the_first_screen_shows_the_login_form_then_the_live_map(
    site: Site, page: Any
) -> None:
    await page.goto(site.base + "/")  # a first load warms the server's file cache
    login_screen = await _time_to(page, site.base + "/", "[data-testid=login]")
    await log_in(page, site)
    live_map = await _time_to(page, site.base + "/", "[data-testid=map] [data-robot]")
    # A figure to read in the output, not a threshold: the machine's load decides it.
    print(f"first screen: login form {login_screen:.0f} ms, live map (logged in) {live_map:.0f} ms")


async def _time_to(page: Any, url: str, selector: str) -> float:
    """Milliseconds from the navigation to ``url`` until ``selector`` is visible (the page's clock)."""
    await page.goto(url)
    await page.locator(selector).first.wait_for()
    return await page.evaluate("performance.now()")  # type: ignore[no-any-return]


async def test_after_login_the_map_shows_every_robot_moving(site: Site, page: Any) -> None:
    patrol = {"category": "patrol", "description": {"places": ["lobby", "room_102"], "rounds": 3}}
    await dispatch(site, patrol)
    await log_in(page, site)
    await page.locator("[data-testid=connection][data-status=live]").wait_for()
    rows = page.locator("[data-robot-row]")
    await expect(rows).to_have_count(SIM_ROBOTS + VDA_VEHICLES, timeout=10_000)
    map_view = page.locator("[data-testid=map]")
    first = await map_view.screenshot(path=_artifact("map-1"))
    await page.wait_for_timeout(1500)
    second = await map_view.screenshot(path=_artifact("map-2"))
    await shot(page, "dashboard")
    assert first != second, "the map did not change in 1.5 s: no robot moved"


async def test_clicking_a_robot_shows_its_details_and_its_task(site: Site, page: Any) -> None:
    patrol = {"category": "patrol", "description": {"places": ["lobby", "room_101"], "rounds": 5}}
    task = await dispatch(site, patrol)
    robot = task["assigned_to"]
    await log_in(page, site)
    # A moving robot is never still enough for a pointer click (and may sit under another one
    # at a charger): the click goes to its element.
    on_map = page.locator(f'[data-testid=map] [data-robot="{robot["group"]}/{robot["name"]}"]')
    await on_map.dispatch_event("click")
    detail = page.locator("[data-testid=robot-detail]")
    await expect(detail.locator("h3")).to_contain_text(robot["name"])
    await expect(detail.get_by_role("link", name=task["booking"]["id"])).to_be_visible()


async def test_a_submitted_delivery_is_followed_to_completed(site: Site, page: Any) -> None:
    await log_in(page, site)
    await page.click("[data-tab=submit]")
    form = page.locator("[data-testid=submit-task]")
    await form.locator("select[name=category]").select_option("delivery")
    # On L2, where no VDA 5050 vehicle goes: a task that names no fleet is then RMF's.
    await form.locator("select[name=pickup]").select_option("kitchen")
    await form.locator("select[name=dropoff]").select_option("room_201")
    await form.locator("button[type=submit]").click()
    detail = page.locator("[data-testid=task-detail]")
    status = detail.locator("[data-testid=task-status]")
    await status.wait_for()
    await shot(page, "delivery-underway")
    await detail.locator("[data-testid=task-status]", has_text="completed").wait_for(
        timeout=TASK_TIMEOUT_MS
    )
    await expect(detail.locator(".phases")).to_contain_text("Unload items — completed")
    # Logged long after the detail opened: it arrived through the task's log room.
    await expect(detail.locator("[data-testid=task-log]")).to_contain_text(
        "[handler:room_201_ingestor] finished"
    )
    await shot(page, "delivery-completed")


async def test_a_task_found_in_the_filtered_list_can_be_cancelled(site: Site, page: Any) -> None:
    long_patrol = {"category": "patrol", "description": {"places": ["lobby", "lab"], "rounds": 50}}
    task_id = (await dispatch(site, long_patrol))["booking"]["id"]
    await dispatch(site, {"category": "clean", "description": {"zone": "hall_L2"}})
    await log_in(page, site)
    await page.click("[data-tab=tasks]")
    await page.locator("select[aria-label=category]").select_option("patrol")
    await page.locator(f'[data-task-row="{task_id}"]').click()
    await expect(page.locator("[data-task-row^='clean.']")).to_have_count(0)
    detail = page.locator(f'[data-testid=task-detail][data-task="{task_id}"]')
    await detail.get_by_role("button", name="Cancel task").click()
    await detail.locator("[data-testid=task-status]", has_text="canceled").wait_for()
    await expect(page.locator(f'[data-task-row="{task_id}"] .status')).to_have_text("canceled")


async def test_a_door_opens_and_closes_from_its_controls(site: Site, page: Any) -> None:
    await log_in(page, site)
    await page.click("[data-tab=devices]")
    door = page.locator('[data-door-row="pantry_door"]')
    on_map = page.locator('[data-testid=map] [data-door="pantry_door"]')
    await door.get_by_role("button", name="open").click()
    await expect(on_map).to_have_class(re.compile(r"\bmode-2\b"), timeout=15_000)
    await expect(door.locator(".door-mode")).to_have_text("open")
    await door.get_by_role("button", name="close").click()
    await expect(on_map).to_have_class(re.compile(r"\bmode-0\b"), timeout=15_000)


async def test_a_stopped_robot_goes_offline_with_an_alert(site: Site, page: Any) -> None:
    await log_in(page, site)
    await control(site, "tinyRobot", "tinyRobot2", "stop")
    try:
        row = page.locator('[data-robot-row="tinyRobot/tinyRobot2"][data-link=offline]')
        await row.wait_for(timeout=15_000)
        await page.click("[data-tab=alerts]")
        alert = page.locator("[data-testid=alerts] li", has_text="Robot tinyRobot2 is offline")
        await alert.wait_for(timeout=10_000)
        await shot(page, "robot-offline-alert")
        await alert.get_by_role("button", name="acknowledge").click()
        await alert.wait_for(state="detached", timeout=10_000)
    finally:
        await control(site, "tinyRobot", "tinyRobot2", "start")


async def test_a_dropped_connection_shows_reconnecting_then_resynced(site: Site, page: Any) -> None:
    routes: list[Any] = []

    def forward(ws: Any) -> None:
        ws.connect_to_server()
        routes.append(ws)

    await page.route_web_socket("**/socket.io/**", forward)
    await log_in(page, site)
    badge = page.locator("[data-testid=connection]")
    await page.locator("[data-testid=connection][data-status=live]").wait_for()
    await routes[-1].close()
    await page.locator("[data-testid=connection][data-status=reconnecting]").wait_for()
    await page.locator("[data-testid=connection][data-status=resynced]").wait_for(timeout=10_000)
    await shot(page, "resynced")
    assert "resynced" in await badge.inner_text()


async def provision_restricted_user(
    site: Site, username: str, password: str, fleet: str = "tinyRobot"
) -> None:
    """As the admin: a user whose one role reads robots and tasks of ``fleet`` only."""
    group, role = f"{fleet}_site", f"{fleet}_viewer"
    steps = [
        ("/admin/security_groups", {"name": group}),
        (f"/admin/security_groups/{group}/members", {"kind": "fleet", "name": fleet}),
        ("/admin/roles", {"name": role}),
        (f"/admin/roles/{role}/permissions", {"action": "robot_read", "authz_grp": group}),
        (f"/admin/roles/{role}/permissions", {"action": "task_read", "authz_grp": group}),
        ("/admin/users", {"username": username, "password": password}),
        (f"/admin/users/{username}/roles", {"name": role}),
    ]
    async with aiohttp.ClientSession(headers=await bearer(site)) as session:
        for path, body in steps:
            async with session.post(site.base + path, json=body) as resp:
                assert resp.status == 200, f"{path}: {resp.status} {await resp.text()}"


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def restricted_user(site: Site) -> tuple[str, str]:
    """A user who may read the robots and tasks of the tinyRobot fleet, and do nothing else."""
    if site.admin_password is None:
        pytest.skip("this fleethub runs without auth: there are no users to restrict")
    await provision_restricted_user(site, "tina", "tina-password-1")
    return "tina", "tina-password-1"


async def test_a_restricted_user_sees_only_their_groups_robots(
    site: Site, page: Any, restricted_user: tuple[str, str]
) -> None:
    await log_in(page, site, *restricted_user)
    rows = page.locator("[data-robot-row]")
    await expect(rows).to_have_count(SIM_ROBOTS // 2)
    await expect(page.locator('[data-robot-row^="deliveryRobot/"]')).to_have_count(0)
    await page.wait_for_timeout(
        1500
    )  # a room that leaked another group's robot would show it by now
    await expect(rows).to_have_count(SIM_ROBOTS // 2)
    await expect(page.locator('[data-testid=map] [data-robot^="deliveryRobot/"]')).to_have_count(0)
    await expect(page.locator("[data-testid=user]")).to_contain_text("tina")
    await shot(page, "restricted-user")


async def test_a_user_without_command_permissions_is_offered_no_commands(
    site: Site, page: Any, restricted_user: tuple[str, str]
) -> None:
    await log_in(page, site, *restricted_user)
    await page.click("[data-tab=devices]")
    await page.locator('[data-door-row="pantry_door"]').wait_for()
    await expect(page.locator("[data-testid=devices] button")).to_have_count(0)
    await page.click("[data-tab=submit]")
    await expect(page.locator("[data-testid=submit-task]")).to_have_count(0)
    await expect(page.locator("aside")).to_contain_text("You may not submit tasks")


VDA_ROBOT = "vda5050/agv1"


async def open_robot(page: Any, key: str) -> Any:
    """Select a robot in the robots' table; its detail panel."""
    await page.click("[data-tab=robots]")
    await page.locator(f'[data-robot-row="{key}"]').click()
    detail = page.locator("[data-testid=robot-detail]")
    await expect(detail.locator("h3")).to_contain_text(key.partition("/")[2])
    return detail


async def test_a_vda5050_robot_is_paused_and_resumed_from_its_controls(
    site: Site, page: Any
) -> None:
    await log_in(page, site)
    detail = await open_robot(page, VDA_ROBOT)
    controls = detail.locator("[data-testid=robot-controls]")
    operation = detail.locator("[data-testid=robot-operation]")
    # Clearing reservations is only for a robot that vanished.
    await expect(controls.get_by_role("button")).to_have_count(3)
    await controls.get_by_role("button", name="pause").click()
    await expect(operation).to_contain_text("paused", timeout=15_000)
    await expect(controls.get_by_role("button", name="resume")).to_be_visible()
    await shot(page, "vda-robot-paused")
    await controls.get_by_role("button", name="resume").click()
    await expect(operation).to_contain_text("running", timeout=15_000)


async def test_a_robot_of_an_rmf_fleet_is_offered_no_vda5050_controls(
    site: Site, page: Any
) -> None:
    await log_in(page, site)
    detail = await open_robot(page, "tinyRobot/tinyRobot1")
    await expect(detail.locator("dl")).to_contain_text("tinyRobot")
    await expect(detail.locator("[data-testid=robot-controls]")).to_have_count(0)


async def test_a_user_who_only_reads_a_vda5050_robot_is_offered_none_of_its_controls(
    site: Site, page: Any
) -> None:
    if site.admin_password is None:
        pytest.skip("this fleethub runs without auth: there are no users to restrict")
    await provision_restricted_user(site, "vera", "vera-password-1", fleet="vda5050")
    await log_in(page, site, "vera", "vera-password-1")
    detail = await open_robot(page, VDA_ROBOT)
    await expect(detail.locator("[data-testid=robot-operation]")).to_be_visible()
    await expect(detail.locator("[data-testid=robot-controls]")).to_have_count(0)
