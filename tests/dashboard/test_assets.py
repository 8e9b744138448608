"""The built dashboard as rest_api serves it: the page, its hashed assets, its web app manifest and
icons, and a build of the current sources."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from rest_api import dashboard_static
from rest_api.dashboard_static import DASHBOARD_DIR, WebManifest
from rest_api.registry import mount

ROOT = Path(__file__).resolve().parents[2]
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    app = web.Application()
    mount(app, list(dashboard_static.routes))
    return await aiohttp_client(app)


def _assets(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/assets/[^"]+)"', page)


async def test_the_page_is_served_at_the_root_and_always_revalidated(client: Client) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert '<div id="app">' in await resp.text()


async def test_the_page_may_load_scripts_only_from_its_own_origin(client: Client) -> None:
    resp = await client.get("/")
    policy = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "<script>" not in await resp.text(), "an inline script would need 'unsafe-inline'"


async def test_every_asset_the_page_names_is_served_cacheable_forever(client: Client) -> None:
    assets = _assets(await (await client.get("/")).text())
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        resp = await client.get(asset)
        assert resp.status == 200, asset
        assert "immutable" in resp.headers["Cache-Control"]


async def test_an_unknown_asset_is_404(client: Client) -> None:
    assert (await client.get("/assets/nothing.js")).status == 404


async def test_an_asset_path_cannot_leave_the_assets_folder(client: Client) -> None:
    assert (await client.get("/assets/..%2Findex.html")).status == 404
    assert (await client.get("/assets/../../app.py")).status == 404


async def test_the_page_names_its_web_app_manifest(client: Client) -> None:
    assert (
        '<link rel="manifest" href="/manifest.webmanifest"' in await (await client.get("/")).text()
    )


async def test_the_web_app_manifest_is_served_as_a_manifest_and_revalidated(client: Client) -> None:
    resp = await client.get("/manifest.webmanifest")
    assert resp.status == 200
    assert resp.content_type == "application/manifest+json"
    assert resp.headers["Cache-Control"] == "no-cache"
    manifest = WebManifest.model_validate(await resp.json(content_type=None))
    assert (manifest.display, manifest.start_url) == ("standalone", "/")


async def test_every_icon_the_manifest_names_is_served_as_png(client: Client) -> None:
    manifest = await (await client.get("/manifest.webmanifest")).json(content_type=None)
    assert manifest["icons"]
    for icon in manifest["icons"]:
        resp = await client.get(icon["src"])
        assert resp.status == 200, icon
        assert resp.content_type == "image/png"


async def test_an_icon_path_cannot_leave_the_icons_folder(client: Client) -> None:
    assert (await client.get("/icons/..%2Fmanifest.webmanifest")).status == 404
    assert (await client.get("/icons/nothing.png")).status == 404


async def test_an_installation_without_a_built_dashboard_answers_503_saying_how_to_build_it(
    client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(dashboard_static, "INDEX", tmp_path / "index.html")
    resp = await client.get("/")
    assert resp.status == 503
    assert "scripts/build_dashboard.sh" in (await resp.json())["detail"]


def test_the_page_and_its_assets_are_small_enough_to_load_in_well_under_a_second() -> None:
    page = (DASHBOARD_DIR / "index.html").read_text()
    total = sum((DASHBOARD_DIR / "assets" / Path(a).name).stat().st_size for a in _assets(page))
    assert total < 200_000, f"{total} bytes of assets"


def test_the_committed_build_is_of_the_current_sources() -> None:
    check = subprocess.run(
        [str(ROOT / "scripts" / "build_dashboard.sh"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
