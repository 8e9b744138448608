"""The /_internal websocket: what RMF fleet adapters, ros_bridge and the simulator push to.

Every connection must present the site token (:mod:`fleetcore.site_token`):
RMF's stock ``BroadcastClient`` cannot set headers, so it may come as
``?token=``, or as ``Authorization: Bearer``. A refusal is a 401 before the
upgrade, counted under ``reason="unauthorized"``.

Each text frame is one ``{type, data}`` message. A bad frame is answered with ``{"error": reason, "detail": ...}`` and counted; the
connection and its good traffic go on. A frame over the transport limit
closes only that connection (1009), as websockets require.

A site whose first frame is a ``hello`` gets its numbered frames
acknowledged once durable, and duplicates dropped
(:mod:`fleetcore.contract.site_link`, :mod:`hub.site_sessions`); other
sites (RMF's ``BroadcastClient``) are served as before. Every connection is
closed (1013, try again later) when this hub stops leading, so its site
reconnects to the hub that leads now.

The same websocket carries commands the other way: while connected, a site
is one of ``sites`` (see :mod:`hub.rmf_gateway`) and its ``command_response``
frames complete commands instead of being ingested.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from fleetcore import metrics
from fleetcore.aio import cancel_and_wait
from fleetcore.contract.ingest import (
    CommandResponse,
    IngestLimits,
    IngestMessage,
    IngestType,
    Reason,
    decode,
)
from fleetcore.contract.site_link import (
    HELLO_QUERY,
    REPLACED,
    Serves,
    ack_frame,
    frame_number,
    parse_hello,
    welcome_frame,
)
from fleetcore.errors import IngestRejected, NotLeading
from fleetcore.log import ingest_logger
from fleetcore.settings import Settings
from fleetcore.site_token import require_site_token
from hub.changes import SiteFrame
from hub.rmf_gateway import Site, SiteGateway
from hub.service import Hub
from hub.site_sessions import SessionLedger, SiteSessions


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


async def _reject(ws: web.WebSocketResponse, exc: IngestRejected, number: int | None) -> None:
    reply: dict[str, str | int] = {"error": exc.reason, "detail": exc.detail}
    if number is not None:
        reply["n"] = number
    await ws.send_str(orjson.dumps(reply).decode())


def _transport_reason(error: BaseException | None) -> str:
    if isinstance(error, WebSocketError) and error.code == WSCloseCode.MESSAGE_TOO_BIG:
        return Reason.FRAME_TOO_LARGE
    return "transport_error"


async def _command_response(
    sites: SiteGateway | None,
    response: CommandResponse,
    recorded: asyncio.Future[None] | None = None,
) -> None:
    if sites is None:
        metrics.COMMAND_RESPONSES_IGNORED.labels("no_executor").inc()
        if recorded is not None:
            recorded.cancel()
        return
    await sites.received(response, recorded)


def decode_frame(raw: bytes | str, limits: IngestLimits) -> IngestMessage:
    """Decode and validate one frame from a site, counted; raises :class:`IngestRejected`."""
    try:
        message = decode(raw, limits)
    except IngestRejected as exc:
        metrics.INGEST_REJECTED.labels(exc.reason).inc()
        raise
    metrics.INGEST_MESSAGES.labels(message.type.value).inc()
    return message


async def ingest_frame(
    hub: Hub,
    sites: SiteGateway | None,
    raw: bytes | str,
    limits: IngestLimits,
    received_at: float,
    *,
    site: Site | None = None,
) -> None:
    """Decode, validate, count and take one frame from a site, as every way in does.

    A ``command_response`` completes its command; anything else is ingested,
    and tells ``sites`` what ``site`` serves. Raises :class:`IngestRejected`
    (counted under its reason) or :class:`NotLeading` (this hub is not the one to send to).
    """
    message = decode_frame(raw, limits)
    if sites is not None and site is not None:
        sites.learn(site, message)
    if message.type is IngestType.COMMAND_RESPONSE:
        await _command_response(sites, message.data)
        return
    await _ingest(hub, message, received_at)


async def _ingest(
    hub: Hub, message: IngestMessage, received_at: float, site_frame: SiteFrame | None = None
) -> None:
    try:
        await hub.ingest(message, received_at, site_frame=site_frame)
    except IngestRejected as exc:
        metrics.INGEST_REJECTED.labels(exc.reason).inc()
        raise


class SiteConnection:
    """One /_internal connection: its frames taken in order, and what this hub owes its site.

    A task watches for what ends the connection from this side (this hub
    stopped leading; another connection took its session over; a frame of
    its session cannot become durable) and sends the acks of a session.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        hub: Hub,
        sites: SiteGateway | None,
        sessions: SiteSessions,
        limits: IngestLimits,
        peer: str | None,
    ) -> None:
        self.ws = ws
        self._hub = hub
        self._sites = sites
        self._sessions = sessions
        self._limits = limits
        self._peer = peer
        self._term = hub.writer_task
        self._ledger: SessionLedger | None = None
        self._first = True
        self._acked = 0
        self._wake = asyncio.Event()
        self._term.add_done_callback(self._on_term_end)
        self._watch = asyncio.create_task(self._watching(), name="ingest-connection")

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        self._term.remove_done_callback(self._on_term_end)
        if self._ledger is not None:
            self._ledger.release(self)
        await cancel_and_wait(self._watch)

    async def take(self, kind: WSMsgType, data: bytes | str) -> bool:
        """Take one frame; False when the connection must end (this hub does not lead)."""
        number = None
        try:
            if kind is WSMsgType.BINARY:
                metrics.INGEST_REJECTED.labels(Reason.BINARY_FRAME).inc()
                raise IngestRejected(Reason.BINARY_FRAME, "frames must be JSON text")
            if self._first:
                self._first = False
                hello = parse_hello(data)
                if hello is not None:
                    await self._welcome(hello.session, hello.serves)
                    return True
                if self._sites is not None:
                    self._sites.attach(self.ws)
            number = frame_number(data) if self._ledger is not None else None
            if number is None:
                await ingest_frame(
                    self._hub, self._sites, data, self._limits, time.monotonic(), site=self.ws
                )
            else:
                await self._numbered(number, data)
        except IngestRejected as exc:
            ingest_logger.info("rejected frame from %s: %s", self._peer, exc)
            await _reject(self.ws, exc, number)
        except NotLeading as exc:
            # The site reconnects and finds the active hub; an acknowledged site sends
            # again what was not acked, others the full state a reconnecting adapter sends.
            await self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=str(exc).encode()[:120])
            return False
        return True

    async def _welcome(self, session: str, serves: Serves) -> None:
        if not self._hub.ready:
            raise NotLeading("this hub is not the leader; reconnect to the active hub")
        self._ledger = await self._sessions.join(session, self)
        if self._sites is not None:
            self._sites.attach(self.ws, serves)
        await self.ws.send_str(welcome_frame(session, self._limits.max_map_bytes).decode())
        # What the session's last connection took may be acked already, its ack lost with it.
        self.wake()
        ingest_logger.info("site session %s from %s: frames acknowledged", session, self._peer)

    async def _numbered(self, number: int, raw: bytes | str) -> None:
        """Take a numbered frame into the session's ledger, once, and on to where it is durable."""
        ledger = self._ledger
        assert ledger is not None
        received_at = time.monotonic()
        try:
            message = decode_frame(raw, self._limits)
        except IngestRejected:
            _settled(ledger.take(number))
            raise
        if self._sites is not None:
            self._sites.learn(self.ws, message)
        if message.type is IngestType.COMMAND_RESPONSE:
            await _command_response(self._sites, message.data, ledger.take(number, idempotent=True))
            return
        durable = ledger.take(number)
        if durable is None:
            metrics.INGEST_DUPLICATES.inc()
            return
        try:
            await _ingest(
                self._hub, message, received_at, SiteFrame(ledger.session, number, durable)
            )
        except IngestRejected:
            durable.set_result(None)
            raise
        except BaseException:
            durable.cancel()
            raise

    def _on_term_end(self, term: asyncio.Task[None]) -> None:
        self.wake()

    async def _watching(self) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                await self._wake.wait()
                self._wake.clear()
                ledger = self._ledger
                if self._term.done():
                    await self._close(WSCloseCode.TRY_AGAIN_LATER, "this hub stopped leading")
                    return
                if ledger is None:
                    continue
                if ledger.holder is not self:
                    await self._close(REPLACED, "a newer connection took this site session")
                    return
                if ledger.failed:
                    await self._close(WSCloseCode.TRY_AGAIN_LATER, "frames could not be stored")
                    return
                if ledger.acked > self._acked:
                    self._acked = ledger.acked
                    await self.ws.send_str(ack_frame(self._acked).decode())

    async def _close(self, code: int, why: str) -> None:
        ingest_logger.info("closing the ingest connection from %s: %s", self._peer, why)
        await self.ws.close(code=code, message=why.encode())


def _settled(durable: asyncio.Future[None] | None) -> None:
    if durable is not None:
        durable.set_result(None)


def ingest_handler(
    hub: Hub, settings: Settings, sites: SiteGateway | None = None
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The /_internal handler; raises :class:`ConfigError` when no usable site token is set."""
    token = require_site_token(settings, "the hub's /_internal ingest")
    limits = IngestLimits(settings.ingest_max_frame_bytes, settings.ingest_max_map_bytes)
    sessions = SiteSessions(lambda: hub.position.epoch)

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
        connection = SiteConnection(ws, hub, sites, sessions, limits, request.remote)
        try:
            await ws.prepare(request)
            await _serve(ws, connection, sites, HELLO_QUERY in request.query, request.remote)
        finally:
            await connection.close()
        return ws

    return handle


async def _serve(
    ws: web.WebSocketResponse,
    connection: SiteConnection,
    sites: SiteGateway | None,
    hello_first: bool,
    peer: str | None,
) -> None:
    """Take the connection's frames; a site that says a hello comes first gets commands after it."""
    metrics.INGEST_CONNECTIONS.inc()
    ingest_logger.info("ingest connection from %s", peer)
    if sites is not None and not hello_first:
        sites.attach(ws)
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                if not await connection.take(msg.type, msg.data):
                    break
            elif msg.type is WSMsgType.ERROR:
                metrics.INGEST_REJECTED.labels(_transport_reason(ws.exception())).inc()
                ingest_logger.info("ingest connection from %s failed: %s", peer, ws.exception())
    except ConnectionResetError as exc:
        # The site went away while being answered (a welcome, an ack, a rejection): it
        # reconnects and sends again what was not acknowledged.
        ingest_logger.info("ingest connection from %s went away: %s", peer, exc)
    finally:
        if sites is not None:
            sites.detach(ws)
        metrics.INGEST_CONNECTIONS.dec()
        ingest_logger.info("ingest connection from %s closed", peer)
