"""The /_internal websocket: what RMF fleet adapters, ros_bridge and the simulator push to.

Every connection must present the site token (:mod:`fleetcore.site_token`):
RMF's stock ``BroadcastClient`` cannot set headers, so it may come as
``?token=``, or as ``Authorization: Bearer``. A refusal is a 401 before the
upgrade, counted under ``reason="unauthorized"``.

Each text frame is one ``{type, data}`` message. A bad frame is answered with ``{"error": reason, "detail": ...}`` and counted; the
connection and its good traffic go on. A frame over the transport limit
closes only that connection (1009), as websockets require.

The same websocket carries commands the other way: while connected, a site
is one of ``sites`` (see :mod:`hub.rmf_gateway`) and its ``command_response``
frames complete commands instead of being ingested.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from fleetcore import metrics
from fleetcore.contract.ingest import (
    CommandResponse,
    IngestLimits,
    IngestType,
    Reason,
    decode,
)
from fleetcore.errors import IngestRejected, NotLeading
from fleetcore.log import ingest_logger
from fleetcore.settings import Settings
from fleetcore.site_token import require_site_token
from hub.rmf_gateway import SiteGateway
from hub.service import Hub


def _token_problem(request: web.Request, token: str) -> str | None:
    """Why the request's site token is refused, or None when it is the right one."""
    offered = request.query.get("token", "")
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        offered = header.removeprefix("Bearer ")
    if not offered:
        return "a site token is required (?token= or Authorization: Bearer)"
    if not hmac.compare_digest(offered.encode(), token.encode()):
        return "the site token is not valid"
    return None


async def _reject(ws: web.WebSocketResponse, exc: IngestRejected) -> None:
    await ws.send_str(orjson.dumps({"error": exc.reason, "detail": exc.detail}).decode())


def _transport_reason(error: BaseException | None) -> str:
    if isinstance(error, WebSocketError) and error.code == WSCloseCode.MESSAGE_TOO_BIG:
        return Reason.FRAME_TOO_LARGE
    return "transport_error"


async def _command_response(sites: SiteGateway | None, response: CommandResponse) -> None:
    if sites is None:
        metrics.COMMAND_RESPONSES_IGNORED.labels("no_executor").inc()
        return
    await sites.received(response)


async def ingest_frame(
    hub: Hub,
    sites: SiteGateway | None,
    raw: bytes | str,
    limits: IngestLimits,
    received_at: float,
) -> None:
    """Decode, validate, count and take one frame from a site, as every way in does.

    A ``command_response`` completes its command; anything else is ingested.
    Raises :class:`IngestRejected` (counted under its reason) or
    :class:`NotLeading` (this hub is not the one to send to).
    """
    try:
        message = decode(raw, limits)
    except IngestRejected as exc:
        metrics.INGEST_REJECTED.labels(exc.reason).inc()
        raise
    metrics.INGEST_MESSAGES.labels(message.type.value).inc()
    if message.type is IngestType.COMMAND_RESPONSE:
        await _command_response(sites, message.data)
        return
    try:
        await hub.ingest(message, received_at)
    except IngestRejected as exc:
        metrics.INGEST_REJECTED.labels(exc.reason).inc()
        raise


def ingest_handler(
    hub: Hub, settings: Settings, sites: SiteGateway | None = None
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The /_internal handler; raises :class:`ConfigError` when no usable site token is set."""
    token = require_site_token(settings, "the hub's /_internal ingest")
    limits = IngestLimits(settings.ingest_max_frame_bytes, settings.ingest_max_map_bytes)

    async def handle(request: web.Request) -> web.StreamResponse:
        problem = _token_problem(request, token)
        if problem is not None:
            metrics.INGEST_REJECTED.labels(Reason.UNAUTHORIZED).inc()
            ingest_logger.info("refused ingest connection from %s: %s", request.remote, problem)
            raise web.HTTPUnauthorized(
                text=orjson.dumps({"detail": problem}).decode(), content_type="application/json"
            )
        problem = hub.problem
        if problem is not None:
            raise web.HTTPServiceUnavailable(
                text=orjson.dumps({"detail": problem}).decode(), content_type="application/json"
            )
        ws = web.WebSocketResponse(max_msg_size=limits.max_map_bytes, heartbeat=30.0)
        await ws.prepare(request)
        peer = request.remote
        metrics.INGEST_CONNECTIONS.inc()
        ingest_logger.info("ingest connection from %s", peer)
        if sites is not None:
            sites.attach(ws)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                    try:
                        if msg.type is WSMsgType.BINARY:
                            metrics.INGEST_REJECTED.labels(Reason.BINARY_FRAME).inc()
                            raise IngestRejected(Reason.BINARY_FRAME, "frames must be JSON text")
                        await ingest_frame(hub, sites, msg.data, limits, time.monotonic())
                    except IngestRejected as exc:
                        ingest_logger.info("rejected frame from %s: %s", peer, exc)
                        await _reject(ws, exc)
                    except NotLeading as exc:
                        # The sender reconnects and finds the active hub; the frame is re-sent
                        # as part of the full state a reconnecting adapter sends.
                        await ws.close(
                            code=WSCloseCode.TRY_AGAIN_LATER, message=str(exc).encode()[:120]
                        )
                        break
                elif msg.type is WSMsgType.ERROR:
                    metrics.INGEST_REJECTED.labels(_transport_reason(ws.exception())).inc()
                    ingest_logger.info("ingest connection from %s failed: %s", peer, ws.exception())
        finally:
            if sites is not None:
                sites.detach(ws)
            metrics.INGEST_CONNECTIONS.dec()
            ingest_logger.info("ingest connection from %s closed", peer)
        return ws

    return handle
