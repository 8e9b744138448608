"""The hub's HTTP surface: /_internal ingest, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from fleetcore.aio import CLEANUP_GRACE_S, cancel_all, cancel_and_wait
from fleetcore.bus import command_channel_from_settings
from fleetcore.bus.base import Bus
from fleetcore.contract.ingest import INGEST_PATH
from fleetcore.errors import WriterFailed
from fleetcore.metrics import metrics_handler
from fleetcore.settings import Settings
from fleetcore.store.db import close_database, open_database
from hub.commands import CommandExecutor
from hub.ingest_ws import ingest_handler
from hub.leader import Lease, default_holder, lead
from hub.reassigner import Reassigner
from hub.rmf_gateway import SiteGateway, alert_response_relay
from hub.scheduler import TaskScheduler
from hub.service import Hub

HUB_KEY = web.AppKey("hub", Hub)


def add_ingest_routes(
    app: web.Application, hub: Hub, settings: Settings, sites: SiteGateway | None = None
) -> None:
    """Mount /_internal on an app (the embedded system mounts it on the shared app).

    With ``sites``, connected sites receive commands and their answers complete them,
    and operators' responses to alerts. With ``settings.ros_bridge``, the ROS 2 bridge
    runs in this process as one more site.
    """
    app.router.add_get(INGEST_PATH, ingest_handler(hub, settings, sites))
    if sites is not None:
        hub.add_publication_listener(alert_response_relay(sites))
    if settings.ros_bridge:
        from hub.ingest_ros import in_process_bridge

        app.cleanup_ctx.append(in_process_bridge(hub, settings, sites or SiteGateway()))


def create_app(settings: Settings, bus: Bus) -> web.Application:
    """The standalone hub process: owns the database and the bus connection.

    Several may run against one database: one leads, the others stand by
    (alive but not ready) until its lease expires; see :mod:`hub.leader`.
    """
    app = web.Application()
    hub = Hub(settings, bus)
    app[HUB_KEY] = hub
    holder = settings.hub_name or default_holder()
    sites = SiteGateway(site_wait_s=settings.command_site_wait_s)
    executor = CommandExecutor(
        hub,
        lambda: command_channel_from_settings(settings, consumer=holder),
        sites,
        reconcile_s=settings.command_site_wait_s,
    )
    scheduler = TaskScheduler(executor, authorize=settings.auth_mode != "off")
    reassigner = Reassigner(hub, executor, poll_s=settings.derive_tick_ms / 1000)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        # A leader frozen inside a write batch holds its epoch row's lock: ended at half
        # the lease, it never holds up the standby's takeover.
        await open_database(
            settings.resolved_database_url,
            apply_migrations=False,
            idle_transaction_timeout_s=settings.hub_lease_s / 2,
        )
        await bus.start()
        lease = Lease(holder, int(settings.hub_lease_s * 1000))
        leadership = asyncio.create_task(
            lead(hub, lease, roles=[executor, scheduler, reassigner]), name="hub-leadership"
        )
        leadership.add_done_callback(hub.leadership_ended)
        yield
        try:
            # A writer that failed for good makes the leadership hand the lease over and
            # end by itself: a cancel now would cut that short. Otherwise cancelling starts
            # a graceful handover: drain the writer, release the lease. A leadership that
            # ended with a failure has reported it already (Hub.leadership_ended).
            if hub.has_failed:
                await asyncio.wait({leadership}, timeout=CLEANUP_GRACE_S)
                await cancel_all([leadership])
            else:
                with contextlib.suppress(WriterFailed):
                    await cancel_and_wait(leadership, grace_s=CLEANUP_GRACE_S)
        finally:
            try:
                await bus.aclose()
            finally:
                await close_database()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        problem = hub.problem
        if problem is None:
            return web.json_response(
                {"status": "ready", "seq": hub.position.seq, "epoch": hub.position.epoch}
            )
        return web.json_response({"status": "not ready", "detail": problem}, status=503)

    app.cleanup_ctx.append(lifetime)
    add_ingest_routes(app, hub, settings, sites)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    return app
