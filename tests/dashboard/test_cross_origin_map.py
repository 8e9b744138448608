"""A dashboard served from another origin loads the building map's floor image, as rmf-web's does.

rmf-web's dashboard is deployed apart from its api-server: it reads the map
over REST with a bearer token (a CORS request), then hands the image URL to
three.js, which loads it as ``<img crossorigin=anonymous>``: no token, and a
CORS check before the pixels may be read. The page here does exactly that,
served by a tiny static server on another loopback port than fleethub's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import start_server
from tests.dashboard.conftest import ARTIFACTS, Site, bearer, browser_missing

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(browser_missing()), reason=browser_missing() or "ready"),
    pytest.mark.asyncio(loop_scope="package"),
]

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>another origin</title>
<p id="result">loading</p>
<script>
const params = new URLSearchParams(location.search);
const result = document.getElementById("result");
function show(image, url) {
  // Reading pixels throws unless the image came with CORS approval (three.js needs it too).
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  context.getImageData(0, 0, 1, 1);
  document.body.appendChild(image);
  result.dataset.url = url;
  result.textContent = `loaded ${image.naturalWidth}x${image.naturalHeight}`;
}
(async () => {
  try {
    const answer = await fetch(params.get("api") + "/building_map", {
      headers: { Authorization: "Bearer " + params.get("token") },
    });
    const building = await answer.json();
    let url = building.levels[0].images[0].data;
    if (params.get("unsigned")) url = url.split("?")[0];
    const image = new Image();
    image.crossOrigin = "anonymous";
    image.onload = () => {
      try { show(image, url); } catch (e) { result.textContent = "tainted " + e; }
    };
    image.onerror = () => { result.dataset.url = url; result.textContent = "failed"; };
    image.src = url;
  } catch (e) {
    result.textContent = "error " + e;
  }
})();
</script>
"""


@pytest_asyncio.fixture(loop_scope="package")
async def other_origin() -> AsyncIterator[str]:
    """A static server on its own loopback port: the dashboard's origin, not fleethub's."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    server: TestServer = await start_server(app)
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def _open(browser: Any, origin: str, site: Site, **extra: str) -> tuple[Any, Any]:
    token = (await bearer(site))["Authorization"].removeprefix("Bearer ")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{origin}/?" + urlencode({"api": site.base, "token": token, **extra}))
    result = page.locator("#result")
    await result.filter(has_not_text="loading").wait_for(timeout=30_000)
    return context, result


async def test_a_page_on_another_origin_shows_the_floor_image_from_its_absolute_url(
    site: Site, browser: Any, other_origin: str
) -> None:
    assert other_origin != site.base
    context, result = await _open(browser, other_origin, site)
    try:
        text, url = await result.text_content(), await result.get_attribute("data-url")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await result.page.screenshot(path=str(ARTIFACTS / "cross_origin_map_image.png"))
    finally:
        await context.close()

    assert text is not None and text.startswith("loaded "), text
    assert url is not None and url.startswith(site.base + "/building_map/images/")
    assert "signature=" in url


async def test_the_image_without_its_signature_is_refused_to_that_page(
    site: Site, browser: Any, other_origin: str
) -> None:
    context, result = await _open(browser, other_origin, site, unsigned="1")
    try:
        text = await result.text_content()
    finally:
        await context.close()

    assert text == "failed"
