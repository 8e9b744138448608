"""``fleethub up``: hub, proxy, REST and the simulator in one process, on one port.

The parts are the same ones that run as separate processes; here they share
one aiohttp app. By default that is one SQLite file and the in-process bus;
with ``FLEETHUB_DATABASE_URL`` and ``FLEETHUB_REDIS_URL`` set, the same app
runs on PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

import simulator
from fleetcore.bus import Bus, CommandChannel, bus_from_settings, command_channel_from_settings
from fleetcore.errors import PartFailed
from fleetcore.http_guard import client_max_size, guard_middleware
from fleetcore.metrics import metrics_handler
from fleetcore.settings import Settings
from fleetcore.store.db import close_database, open_database
from fleetcore.tasks import CLEANUP_GRACE_S, cancel_and_wait
from hub.commands import CommandExecutor
from hub.derive.reassigner import Reassigner
from hub.rmf_gateway import SiteGateway
from hub.scheduler import TaskScheduler
from hub.service import Hub
from hub.web import add_ingest_routes
from proxy.app import attach as attach_proxy

HUB_KEY = web.AppKey("hub", Hub)


def create_app(settings: Settings) -> web.Application:
    bus = bus_from_settings(settings)
    hub = Hub(settings, bus)
    commands = command_channel_from_settings(settings)
    sites = SiteGateway(site_wait_s=settings.command_site_wait_s)
    executor = CommandExecutor(
        hub, lambda: commands, sites, reconcile_s=settings.command_site_wait_s
    )
    scheduler = TaskScheduler(executor, authorize=settings.auth_mode != "off")
    reassigner = Reassigner(hub, executor, poll_s=settings.derive_tick_ms / 1000)
    app = web.Application(
        middlewares=[guard_middleware(settings)], client_max_size=client_max_size(settings)
    )
    app[HUB_KEY] = hub

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        await open_database(settings.resolved_database_url, apply_migrations=True)
        await bus.start()
        await hub.start()
        await executor.start()
        await scheduler.start()
        await reassigner.start()
        yield
        await reassigner.stop()
        await scheduler.stop()
        await executor.stop()
        await hub.stop()
        await bus.aclose()
        await close_database()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        if hub.ready:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready"}, status=503)

    app.cleanup_ctx.append(lifetime)
    add_ingest_routes(app, hub, settings, sites)
    attach_proxy(app, settings, bus)
    _add_rest_api(app, settings, bus, commands)
    if not any(r.resource and r.resource.canonical == "/healthz" for r in app.router.routes()):
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", metrics_handler)
    return app


def _add_rest_api(
    app: web.Application, settings: Settings, bus: Bus, commands: CommandChannel
) -> None:
    try:
        from rest_api.app import add_routes
    except ImportError:
        return
    add_routes(app, settings, bus, commands)


@contextlib.asynccontextmanager
async def simulated_site(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """Run the simulator beside the app, started once the app listens so its first connect succeeds.

    Yields its task, which the caller awaits: the simulator runs until cancelled,
    so its ending is a failure (logged where it happened) that ends the process.
    """
    task = asyncio.create_task(simulator.run(settings), name="simulator")
    try:
        yield task
    finally:
        with contextlib.suppress(PartFailed):
            await cancel_and_wait(task, grace_s=CLEANUP_GRACE_S)
