"""The dashboard on a phone (375x812, touch) and a tablet (768x1024): it fits, a finger reaches
every control, the map pinch-zooms, an alert's snapshot opens in the viewer, a stuck robot's
alert shows the snapshot the simulated robot took, a robot's task links are finger-sized, a
robot's clip plays, and it installs.

Screenshots go to ``test-artifacts/dashboard/`` (``phone-*``, ``tablet-*``).
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from PIL import Image, ImageDraw

from simulator.media import SNAPSHOT_SIZE as SIM_SNAPSHOT_SIZE
from tests.dashboard.conftest import Site, bearer, browser_tests, open_page
from tests.dashboard.test_browser import control, dispatch, log_in, shot
from tests.media.tus import TusClient

expect = pytest.importorskip(
    "playwright.async_api", reason="the playwright package is missing: pip install -e '.[test]'"
).expect

pytestmark = browser_tests()

PHONE = {
    "viewport": {"width": 375, "height": 812},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
TABLET = {
    "viewport": {"width": 768, "height": 1024},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DEVICES = {"phone": PHONE, "tablet": TABLET}
TOUCH_PX = 44
VIEWS = {
    "robots": "[data-testid=robot-table]",
    "tasks": "[data-testid=task-list]",
    "submit": "[data-testid=submit-task]",
    "alerts": "[data-testid=alerts]",
    "devices": "[data-testid=devices]",
}
SNAPSHOT_SIZE = (640, 480)


@pytest_asyncio.fixture(loop_scope="package")
async def phone(browser: Any) -> AsyncIterator[Any]:
    async with open_page(browser, **PHONE) as page:
        yield page


@pytest_asyncio.fixture(loop_scope="package", params=list(DEVICES))
async def device(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, Any]]:
    """A page on the phone, then on the tablet: (its name, the page)."""
    async with open_page(browser, **DEVICES[request.param]) as page:
        yield request.param, page


async def open_view(page: Any, name: str) -> Any:
    """Open a tab as a finger does: through the menu when the tabs are collapsed behind it."""
    menu = page.locator("[data-testid=menu]")
    if await menu.is_visible():
        await menu.tap()
    await page.locator(f"[data-tab={name}]").tap()
    view = page.locator(VIEWS[name])
    await view.first.wait_for()
    return view


async def sideways_overflow(page: Any) -> int:
    """How many pixels the page is wider than the screen (0: nothing scrolls sideways)."""
    return await page.evaluate(  # type: ignore[no-any-return]
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


async def small_controls(page: Any) -> list[str]:
    """Visible buttons, fields and links smaller than a fingertip either way."""
    return await page.evaluate(  # type: ignore[no-any-return]
        """(least) => [...document.querySelectorAll('button, select, input, a[href]')]
          .filter((e) => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
          .map((e) => [e, e.getBoundingClientRect()])
          .filter(([, r]) => r.width > 0 && (r.width < least || r.height < least))
          .map(([e, r]) => `${e.outerHTML.slice(0, 80)}: ${r.width.toFixed(0)}x${r.height.toFixed(0)}`)""",
        TOUCH_PX,
    )


async def test_every_view_fits_the_screen_with_touch_sized_controls(
    site: Site, device: tuple[str, Any]
) -> None:
    name, page = device
    await log_in(page, site)
    for view in VIEWS:
        await open_view(page, view)
        assert await sideways_overflow(page) == 0, f"{name}: {view} scrolls sideways"
        assert await small_controls(page) == [], f"{name}: {view}"
        await shot(page, f"{name}-{view}")


async def test_on_a_phone_the_tabs_collapse_behind_a_menu_naming_the_open_one(
    site: Site, phone: Any
) -> None:
    await log_in(phone, site)
    menu = phone.locator("[data-testid=menu]")
    await expect(phone.locator("[data-tab=alerts]")).to_be_hidden()
    await menu.tap()
    await expect(menu).to_have_attribute("aria-expanded", "true")
    await shot(phone, "phone-menu-open")
    await phone.locator("[data-tab=alerts]").tap()
    await expect(phone.locator("[data-tab=devices]")).to_be_hidden()
    await expect(menu).to_contain_text("Alerts")


async def test_a_robot_opened_on_a_tablet_fits_and_says_it_has_no_media(
    site: Site, browser: Any
) -> None:
    async with open_page(browser, **TABLET) as page:
        await log_in(page, site)
        await open_view(page, "robots")
        await page.locator('[data-robot-row="tinyRobot/tinyRobot1"]').tap()
        detail = page.locator("[data-testid=robot-detail]")
        await expect(detail.locator("[data-testid=media] [data-state=empty]")).to_be_visible()
        assert await sideways_overflow(page) == 0
        await shot(page, "tablet-robot-detail")


async def test_a_pinch_on_the_phone_zooms_the_map(site: Site, phone: Any) -> None:
    await log_in(phone, site)
    svg = phone.locator("[data-testid=map-svg]")
    whole = await view_width(svg)
    box = await svg.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    touch = await phone.context.new_cdp_session(phone)

    async def fingers(kind: str, apart: float) -> None:
        points = [{"x": cx - apart, "y": cy, "id": 0}, {"x": cx + apart, "y": cy, "id": 1}]
        await touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    await fingers("touchStart", 20)
    for apart in range(30, 130, 10):
        await fingers("touchMove", apart)
    await touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    await shows_width(svg, "w < whole / 2", whole)
    await shot(phone, "phone-map-zoomed")
    await phone.get_by_role("button", name="show the whole level").tap()
    await shows_width(svg, "Math.abs(w - whole) < 0.01", whole)


async def view_width(svg: Any) -> float:
    """The width in meters the map shows."""
    return await svg.evaluate("(svg) => svg.viewBox.baseVal.width")  # type: ignore[no-any-return]


async def shows_width(svg: Any, condition: str, whole: float) -> None:
    """Wait until the map's shown width ``w`` meets ``condition`` (``whole``: the level's)."""
    await svg.page.wait_for_function(
        f"([svg, whole]) => {{ const w = svg.viewBox.baseVal.width; return {condition}; }}",
        arg=[await svg.element_handle(), whole],
    )


async def test_an_alerts_snapshot_shows_as_a_thumbnail_opens_full_size_and_new_ones_arrive_live(
    site: Site, phone: Any
) -> None:
    alert_id = f"door-jam-{time.time_ns()}"
    await raise_alert(site, alert_id)
    await upload(site, "alert", alert_id, png(SNAPSHOT_SIZE, "#d64040"))
    await log_in(phone, site)
    await open_view(phone, "alerts")
    media = phone.locator(f'[data-alert="{alert_id}"] [data-testid=media]')
    thumbs = media.locator("button.thumb")
    await expect(thumbs).to_have_count(1)
    await loaded(thumbs.first.locator("img"), "> 0")
    await shot(phone, "phone-alert-snapshot")

    await thumbs.first.tap()
    viewer = phone.locator("[data-testid=media-viewer]")
    full = viewer.locator("img")
    await loaded(full, f"=== {SNAPSHOT_SIZE[0]}")
    assert await sideways_overflow(phone) == 0
    await shot(phone, "phone-alert-viewer")
    await viewer.get_by_role("button", name="close viewer").tap()
    await expect(viewer).to_have_count(0)

    await upload(site, "alert", alert_id, png(SNAPSHOT_SIZE, "#2b7bd6"))
    await expect(thumbs).to_have_count(2)


async def test_a_stuck_robots_alert_shows_the_snapshot_the_robot_took_and_opens_it(
    site: Site, phone: Any
) -> None:
    fleet, robot = "tinyRobot", "tinyRobot4"
    await log_in(phone, site)
    await open_view(phone, "alerts")
    await control(site, fleet, robot, "stop")
    try:
        alert = phone.locator("li.alert", has_text=f"Robot {robot} is offline")
        snapshot = alert.locator("[data-testid=media] button.thumb[data-kind=image]").first
        await expect(snapshot).to_be_visible(timeout=30_000)
        await loaded(snapshot.locator("img"), "> 0")
        await snapshot.scroll_into_view_if_needed()
        await shot(phone, "phone-stuck-robot-snapshot")

        await snapshot.tap()
        viewer = phone.locator("[data-testid=media-viewer]")
        await expect(viewer).to_contain_text(f"uploaded by device:{fleet}/{robot}")
        await loaded(viewer.locator("img"), f"=== {SIM_SNAPSHOT_SIZE[0]}")
        assert await sideways_overflow(phone) == 0
        await shot(phone, "phone-stuck-robot-viewer")
        await viewer.get_by_role("button", name="close viewer").tap()
    finally:
        await control(site, fleet, robot, "start")


async def loaded(image: Any, width: str) -> None:
    """Wait until the <img> loaded a picture whose natural width meets ``width``."""
    await image.page.wait_for_function(
        f"(img) => img.complete && img.naturalWidth {width}", arg=await image.element_handle()
    )


async def test_a_robots_clip_plays_in_the_viewer_fetched_by_range(site: Site, phone: Any) -> None:
    robot = "tinyRobot/tinyRobot3"
    await log_in(phone, site)
    await upload(site, "robot", robot, await record_webm(phone))
    await open_view(phone, "robots")
    await phone.locator(f'[data-robot-row="{robot}"]').tap()
    clip = phone.locator("[data-testid=robot-detail] button.thumb[data-kind=video]")
    async with phone.expect_response(lambda r: "/content" in r.url and r.status == 206):
        await clip.tap()
    video = phone.locator("[data-testid=media-viewer] video[controls]")
    await phone.wait_for_function(
        "(video) => video.readyState >= 1", arg=await video.element_handle()
    )
    await shot(phone, "phone-robot-clip")


async def record_webm(page: Any) -> bytes:
    """A real WebM clip of a few frames, recorded by the browser itself (no encoder installed)."""
    recorded = await page.evaluate(
        """async () => {
          const canvas = Object.assign(document.createElement("canvas"), { width: 160, height: 120 });
          const draw = canvas.getContext("2d");
          const recorder = new MediaRecorder(canvas.captureStream(), { mimeType: "video/webm" });
          const chunks = [];
          recorder.ondataavailable = (e) => chunks.push(e.data);
          const stopped = new Promise((resolve) => (recorder.onstop = resolve));
          recorder.start();
          for (let frame = 0; frame < 12; frame++) {
            draw.fillStyle = frame % 2 ? "#2b7bd6" : "#d64040";
            draw.fillRect(0, 0, 160, 120);
            await new Promise((resolve) => requestAnimationFrame(resolve));
          }
          recorder.stop();
          await stopped;
          return [...new Uint8Array(await new Blob(chunks).arrayBuffer())];
        }"""
    )
    return bytes(recorded)


async def test_the_dashboard_is_installable_with_its_manifest_and_icons(
    site: Site, phone: Any
) -> None:
    await phone.goto(site.base + "/")
    href = await phone.locator("link[rel=manifest]").get_attribute("href")
    manifest = await phone.request.get(site.base + href)
    assert manifest.status == 200
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = await manifest.json()
    assert (body["display"], body["start_url"]) == ("standalone", "/")
    sizes = set()
    for icon in body["icons"]:
        answer = await phone.request.get(site.base + icon["src"])
        assert answer.status == 200 and answer.headers["content-type"] == "image/png", icon
        with Image.open(io.BytesIO(await answer.body())) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]
        sizes.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes


def png(size: tuple[int, int], colour: str) -> bytes:
    """A real PNG, as a robot's camera might send: a coloured frame with a mark in it."""
    image = Image.new("RGB", size, "#f4f6f9")
    draw = ImageDraw.Draw(image)
    draw.rectangle([20, 20, size[0] - 20, size[1] - 20], outline=colour, width=12)
    draw.ellipse([size[0] // 3, size[1] // 3, 2 * size[0] // 3, 2 * size[1] // 3], fill=colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def raise_alert(site: Site, alert_id: str) -> None:
    """An open alert expecting a response, as a script raises one over REST."""
    body = {
        "id": alert_id,
        "unix_millis_alert_time": time.time_ns() // 1_000_000,
        "title": "Door jammed",
        "subtitle": "pantry_door",
        "message": "The pantry door does not close; a robot took a photo.",
        "display": True,
        "tier": "warning",
        "responses_available": ["acknowledge"],
        "alert_parameters": [],
    }
    async with aiohttp.ClientSession(headers=await bearer(site)) as session:
        async with session.post(site.base + "/alerts/request", json=body) as resp:
            assert resp.status == 201, await resp.text()


async def upload(site: Site, attached_to: str, attached_id: str, data: bytes) -> None:
    """Upload ``data`` attached to an alert, robot or task over tus, as the admin."""
    token = (await bearer(site)).get("Authorization", "").removeprefix("Bearer ") or None
    async with aiohttp.ClientSession() as session:
        tus = TusClient(session, site.base, token)
        status, url, refusal = await tus.create(
            len(data), attached_to=attached_to, attached_id=attached_id
        )
        assert status == 201, refusal
        assert (await tus.patch(url, 0, data)).status == 204


async def test_a_robots_task_link_on_the_phone_is_touch_sized_in_its_row_and_its_detail(
    site: Site, phone: Any
) -> None:
    patrol = {"category": "patrol", "description": {"places": ["lobby", "room_101"], "rounds": 5}}
    robot = (await dispatch(site, patrol))["assigned_to"]
    await log_in(phone, site)
    await open_view(phone, "robots")
    row = phone.locator(f'[data-robot-row="{robot["group"]}/{robot["name"]}"]')
    await expect(row.locator("a[href]")).to_be_visible()
    assert await small_controls(phone) == []
    await row.tap()
    detail = phone.locator("[data-testid=robot-detail]")
    await expect(detail.locator("a[href]").first).to_be_visible()
    assert await small_controls(phone) == []
    assert await sideways_overflow(phone) == 0
    await shot(phone, "phone-robot-with-task")
