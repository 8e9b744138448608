"""Building the socket.io server on aiohttp, standalone or mounted on a shared app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import socketio
from aiohttp import web

from fleetcore.auth import Authenticator
from fleetcore.bus.base import Bus
from fleetcore.http_guard import OriginPolicy, client_max_size, guard_middleware
from fleetcore.map_images import MapImageUrls
from fleetcore.metrics import metrics_handler
from fleetcore.settings import Settings
from fleetcore.store.db import close_database, open_database
from proxy._transport import EngineLinks
from proxy.delivery import DEFAULT_DELIVERY, DeliveryConfig
from proxy.fanout import Fanout
from proxy.handler_socketio import SocketHandler
from proxy.sessions import EventLimits

HANDLER_KEY = web.AppKey("socket_handler", SocketHandler)


def attach(
    app: web.Application,
    settings: Settings,
    bus: Bus,
    delivery: DeliveryConfig = DEFAULT_DELIVERY,
) -> SocketHandler:
    """Serve socket.io at /socket.io on ``app``; the caller owns the bus's and the database's lifetime.

    Clients are authenticated against the user store, and retired rooms are
    read from it (the database must be open while the app runs). engine.io
    checks origins with the same policy as :mod:`fleetcore.http_guard` and
    closes a client that sends a message over ``socket_max_message_bytes``.
    """
    # Built now, not when the app starts: a proxy without the secret or keys to verify
    # tokens (or to sign image URLs) refuses to start (ConfigError) before it connects to anything.
    authenticator = Authenticator(settings)
    images = MapImageUrls.from_settings(settings)
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        max_http_buffer_size=settings.socket_max_message_bytes,
        cors_allowed_origins=OriginPolicy.from_settings(settings).engineio,
        ping_interval=20,
        ping_timeout=20,
    )
    sio.attach(app)
    links = EngineLinks(sio)
    links.attach(app)
    handler = SocketHandler(
        sio,
        bus,
        Fanout(links, delivery),
        EventLimits.from_settings(settings),
        images,
    )
    bus.add_listener(handler.on_publications)
    bus.add_resync_listener(handler.on_bus_resync)

    handler.sessions.authenticator = authenticator

    async def authentication(app: web.Application) -> AsyncIterator[None]:
        yield
        await authenticator.aclose()

    app.cleanup_ctx.append(authentication)
    app.on_shutdown.append(lambda _app: handler.shutdown())
    app[HANDLER_KEY] = handler
    return handler


def create_app(
    settings: Settings, bus: Bus, delivery: DeliveryConfig = DEFAULT_DELIVERY
) -> web.Application:
    """The standalone proxy process; it reads the user store (unless ``auth_mode`` is ``off``)
    and the last values of rooms retired from the bus, so it opens the database."""
    app = web.Application(
        middlewares=[guard_middleware(settings)], client_max_size=client_max_size(settings)
    )
    url = settings.resolved_database_url

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        await open_database(url, apply_migrations=url.startswith("sqlite://"))
        await bus.start()
        yield
        bus.remove_listener(handler.on_publications)
        bus.remove_resync_listener(handler.on_bus_resync)
        await bus.aclose()
        await close_database()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    app.cleanup_ctx.append(lifetime)
    handler = attach(app, settings, bus, delivery)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", healthz)
    app.router.add_get("/metrics", metrics_handler)
    return app
