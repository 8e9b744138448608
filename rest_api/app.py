"""Building the REST API: standalone (``fleethub api``) or mounted on a shared app (``fleethub up``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from fleetcore.auth import Authenticator
from fleetcore.auth.users import ensure_first_admin
from fleetcore.bus.base import Bus
from fleetcore.bus.commands_base import CommandChannel
from fleetcore.http_guard import client_max_size, guard_middleware
from fleetcore.map_images import MapImageUrls
from fleetcore.settings import Settings
from fleetcore.store.db import close_database, open_database
from rest_api import dashboard_static, openapi
from rest_api.access import AUTH_KEY
from rest_api.docs_page import render_docs
from rest_api.failures import failures_middleware
from rest_api.first_run import announce_first_admin
from rest_api.graphql.view import add_graphql
from rest_api.keys import (
    BUS_KEY,
    COMMANDS_KEY,
    DOCS_KEY,
    MAP_IMAGES_KEY,
    OPENAPI_KEY,
    READINESS_SEEN_KEY,
    REPLY_TIMEOUT_KEY,
)
from rest_api.login_throttle import LOGIN_THROTTLE_KEY, LoginThrottle
from rest_api.media_retention import media_retention
from rest_api.media_service import MEDIA_KEY, MediaService, media_lifetime
from rest_api.registry import mount
from rest_api.responses import JSON, json_body
from rest_api.routes import (
    admin,
    alerts,
    audit,
    auth,
    beacons,
    commands,
    delivery_alerts,
    device_tokens,
    devices,
    events,
    favorite_tasks,
    fire_alarm,
    fleets,
    media,
    mutex_groups,
    rios,
    robot_controls,
    scheduled_tasks,
    service,
    task_control,
    task_requests,
    tasks,
)
from rest_api.tus import add_tus_routes

ROUTE_TABLES = (
    devices.routes,
    fire_alarm.routes,
    fleets.routes,
    mutex_groups.routes,
    robot_controls.routes,
    tasks.routes,
    alerts.routes,
    delivery_alerts.routes,
    beacons.routes,
    rios.routes,
    events.routes,
    commands.routes,
    task_control.routes,
    task_requests.routes,
    scheduled_tasks.routes,
    favorite_tasks.routes,
    service.routes,
    auth.routes,
    admin.routes,
    device_tokens.routes,
    media.routes,
    audit.routes,
    openapi.routes,
    dashboard_static.routes,
)


def add_routes(
    app: web.Application, settings: Settings, bus: Bus, commands: CommandChannel | None = None
) -> None:
    """Mount every REST route, /openapi.json, /docs, /graphql and the tus upload routes on ``app``.

    The caller owns the database, the bus and ``commands`` (without it the
    command routes answer 503). The access middleware added here checks
    only the REST operations; on a shared app socket.io and the hub's
    /_internal pass through it untouched. On a user store with no user yet,
    start-up adds ``admin`` with a generated password and prints it once.
    """
    app[BUS_KEY] = bus
    app[AUTH_KEY] = Authenticator(settings)
    app[MAP_IMAGES_KEY] = MapImageUrls.from_settings(settings)
    app[LOGIN_THROTTLE_KEY] = LoginThrottle(settings.login_attempts_per_min)
    app[MEDIA_KEY] = MediaService.create(settings, app[AUTH_KEY])
    app.cleanup_ctx.append(_first_admin)
    app.cleanup_ctx.append(media_lifetime)
    app.cleanup_ctx.append(media_retention(settings))
    app[REPLY_TIMEOUT_KEY] = settings.command_reply_timeout_s
    app[READINESS_SEEN_KEY] = []
    if commands is not None:
        app[COMMANDS_KEY] = commands
    operations = [op for table in ROUTE_TABLES for op in table]
    app.middlewares.append(failures_middleware({op.handler for op in operations}))
    mount(app, operations)
    add_tus_routes(app)
    add_graphql(app, settings)
    document = openapi.build_document(operations)
    app[OPENAPI_KEY] = orjson.dumps(document)
    app[DOCS_KEY] = render_docs(document)


def create_app(
    settings: Settings,
    bus: Bus,
    *,
    commands: CommandChannel | None = None,
    manage_database: bool = True,
) -> web.Application:
    """The standalone REST process; it starts and closes ``bus`` (and ``commands``) like the proxy does.

    With ``manage_database`` the app opens the database on startup and closes
    it on cleanup, migrating it only when it is SQLite (the embedded file has
    no other user); a PostgreSQL database must have been migrated by
    ``fleethub migrate``. Without it the caller has opened the database.
    """
    app = web.Application(
        middlewares=[guard_middleware(settings), json_errors],
        client_max_size=client_max_size(settings),
    )
    if manage_database:
        app.cleanup_ctx.append(_database(settings.resolved_database_url))
    app.cleanup_ctx.append(_bus(bus))
    if commands is not None:
        app.cleanup_ctx.append(_commands(commands))
    add_routes(app, settings, bus, commands)
    return app


def _database(url: str) -> Callable[[web.Application], AsyncIterator[None]]:
    async def database(app: web.Application) -> AsyncIterator[None]:
        await open_database(url, apply_migrations=url.startswith("sqlite://"))
        yield
        await close_database()

    return database


async def _first_admin(app: web.Application) -> AsyncIterator[None]:
    if app[AUTH_KEY].enabled:
        password = await ensure_first_admin()
        if password is not None:
            announce_first_admin(password)
    yield


def _bus(bus: Bus) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        await bus.start()
        yield
        await bus.aclose()

    return lifetime


def _commands(channel: CommandChannel) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        await channel.start()
        yield
        await channel.aclose()

    return lifetime


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Router errors (no such path, wrong method) as ``{"detail": ...}``, like every other error."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == JSON:
            raise
        answer = json_body({"detail": f"{exc.reason}: {request.method} {request.path}"}, exc.status)
        if "Allow" in exc.headers:
            answer.headers["Allow"] = exc.headers["Allow"]
        return answer
