"""rmf-web's socket.io protocol, with fleethub's resume extension.

``subscribe {room}`` sends the room's current value at once (state rooms),
then every update; the event name is the room and the payload is the RMF
model. ``subscribe {room, since[, epoch]}`` instead replays what the client
missed (log rooms) or sends the latest value if newer (state rooms), or
answers ``resync`` when that is impossible. ``envelope: true`` (per
subscription, or in the connect ``auth`` payload for all of them) delivers
``{room, seq, epoch, received_ms, data}`` instead of ``data`` alone.

Every subscribe/unsubscribe is acknowledged with ``{success, error?}`` —
to the asking client only.

Access: a client connects with its token (:mod:`proxy.sessions`); a missing
or invalid one is refused with ``connect_error`` ``{message: "unauthorized:
<reason>", data: {reason, detail}}``, counted. Each subscribe is authorized
(:mod:`proxy.access`): ``{success: false, error: "not found"}`` for another
group's object, ``"forbidden"`` for a visible one without the permission.
When the token expires the client gets ``token_expired`` ``{reason, detail}``
and is disconnected, unless it sent ``refresh_token {token}`` (same user)
before; a refresh also re-checks every subscription against the new grants
(a revoked one ends with ``unsubscribed {room, reason}``). subscribe and
unsubscribe, and all other events, are rate-limited per connection
(``{success: false, error: "rate_limited", retry_after_s}``, counted).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import socketio
from aiohttp import WSCloseCode
from socketio.exceptions import ConnectionRefusedError as SocketRefused

from fleetcore import metrics
from fleetcore.auth import Principal
from fleetcore.bus.base import Bus
from fleetcore.contract.envelope import Publication
from fleetcore.contract.rooms import RoomKind, match_room
from fleetcore.errors import Unauthorized, UnknownRoom, UnrecoverablePosition
from fleetcore.log import proxy_logger
from fleetcore.map_images import MapImageUrls
from proxy.access import Context, RoomDenied, View, authorize, presented
from proxy.concerns import Concerns
from proxy.delivery import RESYNC_EVENT
from proxy.fanout import Fanout
from proxy.sessions import ClientSession, EventLimits, Sessions, offered_token

SHUTDOWN_EVENT = "shutdown"
"""Sent to every client when its proxy stops; the client should reconnect (elsewhere)."""
SHUTDOWN_NOTICE_S = 2.0
"""How long a stopping proxy waits for its shutdown notice to reach clients."""
TOKEN_EXPIRED_EVENT = "token_expired"
"""Sent right before the proxy disconnects a client whose token expired."""
UNSUBSCRIBED_EVENT = "unsubscribed"
"""Sent when a refreshed token no longer grants a room the client was subscribed to."""
RATE_LIMITED = "rate_limited"


class SubscribeError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _failure(reason: str, detail: str) -> dict[str, Any]:
    metrics.SUBSCRIBE_REJECTED.labels(reason).inc()
    return {"success": False, "error": detail}


def _event_failure(event: str, reason: str, error: str, **extra: Any) -> dict[str, Any]:
    metrics.SOCKET_EVENTS_REJECTED.labels(event, reason).inc()
    return {"success": False, "error": error, **extra}


def _rate_limited(wait_s: float) -> dict[str, Any]:
    return {"success": False, "error": RATE_LIMITED, "retry_after_s": round(wait_s, 3)}


def _parse_since(data: dict[str, Any]) -> tuple[int | None, int | None]:
    since, epoch = data.get("since"), data.get("epoch")
    for name, value in (("since", since), ("epoch", epoch)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise SubscribeError("invalid_since", f"'{name}' must be a non-negative integer")
    return since, epoch


class SocketHandler:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        bus: Bus,
        fanout: Fanout,
        limits: EventLimits,
        images: MapImageUrls,
    ) -> None:
        self._sio = sio
        self._bus = bus
        self.fanout = fanout
        self.sessions = Sessions(limits, self._expired)
        self._concerns = Concerns()
        self._access = Context(bus, self._concerns, images)
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        sio.on("subscribe", self.on_subscribe)
        sio.on("unsubscribe", self.on_unsubscribe)
        sio.on("refresh_token", self.on_refresh_token)
        sio.on("*", self.on_unknown_event)

    async def on_publications(self, batch: Sequence[Publication]) -> None:
        """The bus listener: learn what the batch concerns (who may see it), then fan it out."""
        if self._concerns_needed():
            self._concerns.observe(batch)
        await self.fanout.on_publications(batch)

    def footprint(self) -> dict[str, int]:
        """What this proxy holds per connected client, by structure: every count is 0 once
        every client has left (a structure that keeps counting is a leak)."""
        return {
            "sessions": len(self.sessions),
            **self.fanout.footprint(),
            **self.fanout.links.footprint(),
        }

    def _concerns_needed(self) -> bool:
        authenticator = self.sessions.authenticator
        return authenticator is not None and authenticator.enabled

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        try:
            principal = await self.sessions.principal(offered_token(auth, environ))
        except Unauthorized as exc:
            metrics.SOCKET_CONNECT_REJECTED.labels(exc.reason).inc()
            raise SocketRefused(
                f"unauthorized: {exc.reason}", {"reason": exc.reason, "detail": exc.detail}
            ) from None
        envelopes = bool(isinstance(auth, dict) and auth.get("envelopes"))
        request = environ.get("aiohttp.request")
        base_url = self._access.images.base_url(request) if request is not None else ""
        self.sessions.open(sid, principal, envelopes, base_url)
        metrics.CLIENTS.inc()
        return True

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        if self.fanout.links.closed_for_size(sid):
            metrics.SOCKET_CLOSED.labels("message_too_large").inc()
            proxy_logger.info("client %s sent a message over the size limit", sid)
        self.fanout.leave_all(sid)
        self.sessions.close(sid)
        metrics.CLIENTS.dec()

    async def _expired(self, sid: str, principal: Principal) -> None:
        """A session's token expired without a refresh: say so, then disconnect."""
        metrics.SOCKET_CLOSED.labels("token_expired").inc()
        proxy_logger.info("token of client %s (%s) expired", sid, principal.username)
        notice = {
            "reason": "token_expired",
            "detail": "the access token expired; connect again with a new one "
            "(send refresh_token {token} before it expires to stay connected)",
        }
        await self._sio.emit(TOKEN_EXPIRED_EVENT, notice, to=sid)
        await self._sio.disconnect(sid)

    async def on_refresh_token(self, sid: str, data: Any) -> dict[str, Any]:
        session = self.sessions.get(sid)
        if session is None:
            return _event_failure("refresh_token", "disconnected", "the connection is closing")
        wait = session.commands.take()
        if wait:
            metrics.SOCKET_EVENTS_REJECTED.labels("refresh_token", RATE_LIMITED).inc()
            return _rate_limited(wait)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            return _event_failure("refresh_token", "malformed", "refresh_token expects {token}")
        try:
            principal = await self.sessions.principal(token)
            self.sessions.renew(sid, principal)
        except Unauthorized as exc:
            return _event_failure("refresh_token", exc.reason, exc.reason, detail=exc.detail)
        await self._recheck(sid, principal)
        return {"success": True, "expires_at": principal.expires_at}

    async def _recheck(self, sid: str, principal: Principal) -> None:
        """Apply refreshed grants to every subscription: a new view, or the end of it."""
        session = self.sessions.get(sid)
        base_url = session.base_url if session is not None else ""
        for room, sub in self.fanout.subscriptions_of(sid):
            try:
                match = match_room(room)
                allowed = await authorize(principal, match, self._access)
                sub.view = presented(allowed, match, self._access, base_url)
            except RoomDenied as exc:
                self.fanout.leave(sid, room)
                await self._sio.emit(
                    UNSUBSCRIBED_EVENT, {"room": room, "reason": exc.answer}, to=sid
                )

    async def on_unknown_event(self, event: str, sid: str, *data: Any) -> dict[str, Any]:
        session = self.sessions.get(sid)
        if session is not None and session.commands.take():
            metrics.SOCKET_EVENTS_REJECTED.labels("unknown", RATE_LIMITED).inc()
            return {"success": False, "error": RATE_LIMITED}
        return _event_failure("unknown", "unknown_event", f"unknown event {event[:64]!r}")

    async def on_subscribe(self, sid: str, data: Any) -> dict[str, Any]:
        session = self.sessions.get(sid)
        if session is None:
            return _failure("disconnected", "the connection is closing")
        wait = session.subscribes.take()
        if wait:
            metrics.SUBSCRIBE_REJECTED.labels(RATE_LIMITED).inc()
            return _rate_limited(wait)
        if not isinstance(data, dict):
            return _failure("malformed", "subscribe expects {room, since?, epoch?, envelope?}")
        try:
            match = match_room(data.get("room"))
            since, epoch = _parse_since(data)
            allowed = await authorize(session.principal, match, self._access)
            view = presented(allowed, match, self._access, session.base_url)
        except UnknownRoom as exc:
            return _failure("unknown_room", str(exc))
        except SubscribeError as exc:
            return _failure(exc.reason, str(exc))
        except RoomDenied as exc:
            return _failure(exc.answer.replace(" ", "_"), exc.answer)
        return await self._join(sid, session, data, match.room, match.kind, since, epoch, view)

    async def _join(
        self,
        sid: str,
        session: ClientSession,
        data: dict[str, Any],
        room: str,
        kind: RoomKind,
        since: int | None,
        epoch: int | None,
        view: View | None,
    ) -> dict[str, Any]:
        envelope = bool(data.get("envelope", session.envelopes))
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, "/")
        if eio_sid is None:
            return _failure("disconnected", "the connection is closing")
        self.fanout.join(sid, eio_sid, room, kind, envelope, view)
        position = await self._bus.position()
        resync_reason = ""
        initial: list[Publication] = []
        if since is not None and epoch is not None and epoch != position.epoch:
            resync_reason = f"the hub's epoch changed from {epoch} to {position.epoch}"
        elif kind is RoomKind.STATE:
            sticky = await self._bus.sticky(room)
            initial = [sticky] if sticky is not None else []
        elif since is not None:
            try:
                initial = await self._bus.history(room, since)
            except UnrecoverablePosition as exc:
                resync_reason = str(exc)
        await self.fanout.activate(sid, room, initial, since or 0)
        if resync_reason:
            metrics.RESYNCS.inc()
            proxy_logger.info("client %s must resync %s: %s", sid, room, resync_reason)
            await self._sio.emit(
                RESYNC_EVENT,
                {
                    "room": room,
                    "reason": resync_reason,
                    "seq": position.seq,
                    "epoch": position.epoch,
                },
                to=sid,
            )
            return {"success": True, "resync": True, "error": resync_reason}
        return {"success": True}

    async def on_bus_resync(self, reason: str) -> None:
        """The bus lost continuity: every log-room subscriber may have missed entries.

        State rooms need nothing: sticky values only move forward, and the next
        publication of each room reaches its subscribers as usual.
        """
        self.fanout.gatherer.flush()  # what came before the gap goes before its resync
        position = await self._bus.position()
        for room, sid, kind in self.fanout.subscriptions():
            if kind is RoomKind.LOG:
                metrics.RESYNCS.inc()
                await self._sio.emit(
                    RESYNC_EVENT,
                    {"room": room, "reason": reason, "seq": position.seq, "epoch": position.epoch},
                    to=sid,
                )

    async def shutdown(self) -> None:
        """Tell every client this proxy is going away, then close their transports.

        Closing the websocket with 1012 (service restart), not a socket.io
        disconnect, makes socket.io clients reconnect by themselves, through
        the load balancer, to another proxy. Polling clients find the session
        gone on their next poll and reconnect too.
        """
        self.fanout.gatherer.flush()
        await self._sio.emit(SHUTDOWN_EVENT, {"reason": "proxy shutting down", "reconnect": True})
        links = self.fanout.links
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(
                    *(links.drained(eio_sid) for eio_sid in list(self._sio.eio.sockets))
                ),
                SHUTDOWN_NOTICE_S,
            )
        await self.fanout.links.close_websockets(
            WSCloseCode.SERVICE_RESTART, b"proxy shutting down"
        )

    async def on_unsubscribe(self, sid: str, data: Any) -> dict[str, Any]:
        session = self.sessions.get(sid)
        if session is not None:
            wait = session.subscribes.take()
            if wait:
                metrics.SOCKET_EVENTS_REJECTED.labels("unsubscribe", RATE_LIMITED).inc()
                return _rate_limited(wait)
        if not isinstance(data, dict):
            return {"success": False, "error": "unsubscribe expects {room}"}
        try:
            room = match_room(data.get("room")).room
        except UnknownRoom as exc:
            return {"success": False, "error": str(exc)}
        if not self.fanout.leave(sid, room):
            return {"success": False, "error": f"not subscribed to {room}"}
        return {"success": True}
