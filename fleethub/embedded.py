"""``fleethub up``: hub, proxy, REST and the simulator in one process, on one port.

The parts are the same ones that run as separate processes; here they share
one aiohttp app. By default that is one SQLite file and the in-process bus;
with ``FLEETHUB_DATABASE_URL`` and ``FLEETHUB_REDIS_URL`` set, the same app
runs on PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator

from aiohttp import web

import simulator
from fleetcore.aio import CLEANUP_GRACE_S, cancel_and_wait
from fleetcore.bus import Bus, CommandChannel, bus_from_settings, command_channel_from_settings
from fleetcore.errors import PartFailed
from fleetcore.http_guard import client_max_size, guard_middleware
from fleetcore.metrics import metrics_handler
from fleetcore.settings import Settings
from fleetcore.store.db import close_database, open_database
from hub.commands import CommandExecutor
from hub.reassigner import Reassigner
from hub.rmf_gateway import SiteGateway
from hub.scheduler import TaskScheduler
from hub.service import Hub
from hub.web import add_ingest_routes
from proxy.app import attach as attach_proxy
from simulator.media import MediaUploadConfig, MediaUploader

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
        try:
            await reassigner.stop()
            await scheduler.stop()
            await executor.stop()
            await hub.stop()
        finally:
            try:
                await bus.aclose()
            finally:
                # Unclosed, SQLite's worker thread would keep the process from exiting.
                await close_database()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        problem = hub.problem
        if problem is None:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready", "detail": problem}, status=503)

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
        from rest_api.keys import READINESS_KEY
    except ImportError:
        return
    hub = app[HUB_KEY]
    app[READINESS_KEY] = lambda: hub.problem
    add_routes(app, settings, bus, commands)


@contextlib.asynccontextmanager
async def simulated_site(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """Run the simulator beside the app, started once the app listens so its first connect succeeds.

    Yields its task, which the caller awaits: the simulator runs until cancelled,
    so its ending is a failure (logged where it happened) that ends the process.
    """
    service = await simulator_service(settings)
    task = asyncio.create_task(service.run(), name="simulator")
    try:
        yield task
    finally:
        with contextlib.suppress(PartFailed):
            await cancel_and_wait(task, grace_s=CLEANUP_GRACE_S)


SIM_TOKEN_ISSUER = "simulator"
"""Who the simulated robots' device tokens are issued by (``created_by``)."""


async def simulator_service(settings: Settings) -> simulator.SimulatorService:
    """The simulator; with ``sim_media``, a device token issued for each of its robots (those
    of an earlier run revoked) and the uploader that uses them against this process's API."""
    service = simulator.SimulatorService(settings)
    if settings.sim_media:
        service.media = await _media_uploader(settings, service.simulation)
    return service


async def _media_uploader(settings: Settings, simulation: simulator.Simulation) -> MediaUploader:
    from fleetcore.store import models
    from rest_api.media_access import create_device_token, now_ms

    await models.DeviceToken.filter(created_by=SIM_TOKEN_ISSUER, revoked_ms__isnull=True).update(
        revoked_ms=now_ms()
    )
    tokens = {}
    for robot in simulation.robots():
        tokens[(robot.fleet, robot.name)], _ = await create_device_token(
            robot.fleet, robot.name, SIM_TOKEN_ISSUER
        )
    return MediaUploader(
        simulation.site,
        MediaUploadConfig(settings.resolved_hub_url, tokens, seed=settings.sim_seed),
    )


@contextlib.asynccontextmanager
async def vda5050_site(settings: Settings) -> AsyncIterator[str]:
    """The VDA 5050 master control beside the app, and its simulated vehicles; yields the broker URL.

    With no ``mqtt_url`` the broker is embedded here too (amqtt, on ``host``).
    The master control reaches the hub over ``/_internal`` like any site.
    """
    # The MQTT stack takes about half a second of CPU to import: off the event loop,
    # so the RMF site starting beside it is not held up.
    await asyncio.to_thread(_import_mqtt_stack)
    from simulator.building import sample_site
    from simulator.vehicles import SimFleet, sim_fleet_config
    from vda5050.service import MasterControlService, master_config, mqtt_config, nav_graph, running

    async with contextlib.AsyncExitStack() as stack:
        url = settings.mqtt_url
        if not url:
            from fleethub.mqtt_broker import embedded_broker

            url = await stack.enter_async_context(
                embedded_broker(settings.host, settings.mqtt_embedded_port)
            )
        mqtt = mqtt_config(settings, url)
        service = MasterControlService(settings, mqtt=mqtt, graph=nav_graph(settings))
        await stack.enter_async_context(running(service))
        if settings.vda5050_sim_vehicles > 0:
            fleet = SimFleet(
                sample_site(), mqtt, master_config(settings).topics, sim_fleet_config(settings)
            )
            task = asyncio.create_task(fleet.run(), name="vda5050-vehicles")
            stack.push_async_callback(cancel_and_wait, task, grace_s=CLEANUP_GRACE_S)
        yield url


def _import_mqtt_stack() -> None:
    for module in ("fleethub.mqtt_broker", "simulator.vehicles", "vda5050.service"):
        importlib.import_module(module)
