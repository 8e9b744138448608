"""The web dashboard, served at ``/`` by rest_api (and so by ``fleethub up``).

The dashboard's sources live in ``dashboard/`` at the repository root; the
setup (``scripts/build_dashboard.sh``, run by ``scripts/up`` and
``scripts/test``) builds them with Vite into ``rest_api/dashboard/``, which
ships in the Python package, so an installed fleethub serves it without Node.
The page logs in and talks to the REST routes and socket.io on its own origin.
Its web app manifest and icons (from ``dashboard/public/``) let a phone or
tablet install it. Its routes are declared like every other operation (public,
documented).
"""

from __future__ import annotations

from pathlib import Path

import orjson
from aiohttp import web
from pydantic import BaseModel

from rest_api.access import PUBLIC
from rest_api.registry import ApiRoutes
from rest_api.responses import JSON, not_found

routes = ApiRoutes("Dashboard")

DASHBOARD_DIR = Path(__file__).parent / "dashboard"
INDEX = DASHBOARD_DIR / "index.html"
ASSETS_DIR = DASHBOARD_DIR / "assets"
ICONS_DIR = DASHBOARD_DIR / "icons"
MANIFEST = DASHBOARD_DIR / "manifest.webmanifest"
ICON_CACHE_SECONDS = 24 * 3600
"""Icons keep their names across builds: cached for a day, not forever."""
ASSET_CACHE_SECONDS = 365 * 24 * 3600
"""Vite names every asset by its content's hash, so an asset URL never changes meaning."""
PAGE_HEADERS = {
    # The page is tiny and names the current assets: always revalidate it.
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@routes.get("/", response=None, media_type="text/html", errors=(503,), access=PUBLIC)
async def get_dashboard(request: web.Request) -> web.FileResponse:
    """The web dashboard: the live map, robots, tasks, alerts and devices (log in on the page).

    503 when this installation's dashboard was never built.
    """
    if not INDEX.is_file():
        raise web.HTTPServiceUnavailable(
            text=orjson.dumps(
                {"detail": "the dashboard is not built: run scripts/build_dashboard.sh"}
            ).decode(),
            content_type=JSON,
        )
    return web.FileResponse(INDEX, headers=PAGE_HEADERS)


@routes.get("/assets/{name}", response=None, media_type="text/plain", errors=(404,), access=PUBLIC)
async def get_dashboard_asset(request: web.Request) -> web.FileResponse:
    """A script or stylesheet of the dashboard, cacheable forever (its name is its content's hash)."""
    return web.FileResponse(
        _built(ASSETS_DIR, request.match_info["name"]),
        headers={
            "Cache-Control": f"public, max-age={ASSET_CACHE_SECONDS}, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )


class ManifestIcon(BaseModel):
    """An icon of the installed app."""

    src: str
    sizes: str
    type: str
    purpose: str


class WebManifest(BaseModel):
    """The web app manifest (W3C Web Application Manifest), as ``dashboard/public/`` has it."""

    name: str
    short_name: str
    description: str
    start_url: str
    scope: str
    display: str
    background_color: str
    theme_color: str
    icons: list[ManifestIcon]


@routes.get(
    "/manifest.webmanifest",
    response=WebManifest,
    media_type="application/manifest+json",
    errors=(404,),
    access=PUBLIC,
)
async def get_dashboard_manifest(request: web.Request) -> web.FileResponse:
    """The dashboard's web app manifest: its name, colours and icons, to install it on a phone."""
    if not MANIFEST.is_file():
        raise not_found("the dashboard is not built")
    return web.FileResponse(
        MANIFEST,
        headers={
            "Content-Type": "application/manifest+json",
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


@routes.get("/icons/{name}", response=None, media_type="image/png", errors=(404,), access=PUBLIC)
async def get_dashboard_icon(request: web.Request) -> web.FileResponse:
    """An icon of the installed dashboard (home screen, tab)."""
    return web.FileResponse(
        _built(ICONS_DIR, request.match_info["name"]),
        headers={
            "Cache-Control": f"public, max-age={ICON_CACHE_SECONDS}",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _built(folder: Path, name: str) -> Path:
    """The file ``name`` the build put in ``folder``, else 404."""
    # Only files the build made are served: the name is looked up among them, never joined
    # to a path, so an encoded "../" cannot reach outside the folder.
    built = {path.name: path for path in folder.glob("*") if path.is_file()}
    path = built.get(name)
    if path is None:
        raise not_found("no such dashboard file")
    return path
