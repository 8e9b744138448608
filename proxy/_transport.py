"""Where a socket.io client's bytes go: its aiohttp websocket, or engine.io's packet queue.

python-engineio writes every packet through a per-socket queue and writer
task, and encodes it again for every socket. The proxy instead writes one
pre-encoded frame to many websockets: straight to each websocket's asyncio
transport while it has room (:meth:`WebSocketLink.write`), else with
aiohttp's public ``WebSocketResponse.send_frame``. For that it needs the ``WebSocketResponse``
of an engine.io session, which engine.io does not expose, and to know whether
engine.io still holds packets that a direct write would overtake.

This is the ONE module that relies on engine.io / socket.io internals
(python-socketio >= 5.11, python-engineio >= 4.10, checked on 5.18 / 4.15;
aiohttp's ``BaseProtocol.writing_paused``).
``tests/proxy/test_transport_internals.py`` fails if any of these change:

- engine.io's aiohttp driver puts the aiohttp request in the session's environ
  under ``"aiohttp.request"`` (``engineio.async_drivers.aiohttp``);
- ``socketio.AsyncServer.environ`` maps an engine.io sid to that environ dict,
  which lives exactly as long as the session (the link is kept in it), and a
  direct websocket's session is registered before its websocket is prepared;
- ``engineio.AsyncServer.sockets[sid]`` has ``upgraded`` and ``queue``, the
  ``asyncio.Queue`` the socket's writer drains (``task_done`` per packet);
- ``socketio.AsyncServer.manager.rooms`` is ``{namespace: {room: {sid: eio_sid}}}``,
  room ``None`` holding every client of the namespace (only counted, in ``footprint``);
- that writer calls ``Packet.encode()`` right before its (synchronous)
  websocket write, so a packet that was encoded has been written
  (:class:`TrackedPacket`).

Everything else is public: aiohttp's ``on_response_prepare`` signal sees every
``WebSocketResponse`` engine.io prepares (a direct websocket connection, or an
upgrade, whose query names the session in ``sid``), and asyncio's transport
reports its write buffer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import socketio
from aiohttp import WSCloseCode, web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_websocket import WebSocketError
from engineio import packet as eio_packet

_ENVIRON_LINK = "fleethub.websocket_link"


class WebSocketLink:
    """One engine.io session's aiohttp websocket, with the flow-control state a broadcast needs."""

    __slots__ = ("_high", "_protocol", "_transport", "ws")

    def __init__(
        self, ws: web.WebSocketResponse, transport: asyncio.Transport, protocol: BaseProtocol
    ) -> None:
        self.ws = ws
        self._transport = transport
        self._protocol = protocol
        self._high = transport.get_write_buffer_limits()[1]

    def has_room(self, size: int) -> bool:
        """Whether ``size`` more bytes can be written without ``send_frame`` waiting for a drain.

        aiohttp's writer only awaits when the protocol is paused, which asyncio
        does once the buffer passes its high-water mark: staying at or below it
        means a broadcast loop never waits for this client. A websocket that
        sent its close frame takes nothing more.
        """
        transport = self._transport
        return (
            not self.ws.closed
            and not transport.is_closing()
            and not self._protocol.writing_paused
            and transport.get_write_buffer_size() + size <= self._high
        )

    def write(self, wire: bytes) -> bool:
        """Write whole websocket frames (:func:`proxy.delivery.wire_frame`) now, if there is room.

        Straight to the transport: no coroutine, no header built and no
        compression per client (an uncompressed message is valid on a
        permessage-deflate connection, RFC 7692 section 6). False, and nothing
        written, when the client has no room or its websocket is closing.
        """
        if not self.has_room(len(wire)):
            return False
        self._transport.write(wire)
        return True

    def write_reserved(self, wire: bytes) -> None:
        """Write frames that :meth:`has_room` made room for earlier; dropped once the websocket closes."""
        if not self.ws.closed and not self._transport.is_closing():
            self._transport.write(wire)

    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        return self._transport.get_write_buffer_size()


class EngineLinks:
    """Finds each session's websocket and reaches engine.io's queue for the other transports."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio

    def attach(self, app: web.Application) -> None:
        """Watch every websocket engine.io prepares on ``app`` (call before the app starts)."""
        app.on_response_prepare.append(self._on_prepare)

    async def _on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        if not isinstance(response, web.WebSocketResponse) or "EIO" not in request.query:
            return
        transport = request.transport
        if transport is None:
            return
        environ = self._environ_of(request)
        if environ is not None:
            environ[_ENVIRON_LINK] = WebSocketLink(response, transport, request.protocol)

    def _environ_of(self, request: web.Request) -> dict[str, Any] | None:
        """The session environ: named by ``sid`` on an upgrade, else the one of this request.

        A direct websocket connection gets its session (and environ) before its
        websocket is prepared, so it is among the newest environs.
        """
        environs: dict[str, dict[str, Any]] = self._sio.environ
        upgrading = request.query.get("sid")
        if upgrading is not None:
            return environs.get(upgrading)
        for environ in reversed(environs.values()):
            if environ.get("aiohttp.request") is request:
                return environ
        return None

    def websocket(self, sid: str, eio_sid: str) -> WebSocketLink | None:
        """The client's websocket, or None while it polls or is still upgrading."""
        environ: dict[str, Any] | None = self._sio.get_environ(sid)
        if environ is None:
            return None
        link: WebSocketLink | None = environ.get(_ENVIRON_LINK)
        if link is None:
            return None
        socket = self._sio.eio.sockets.get(eio_sid)
        return link if socket is not None and socket.upgraded else None

    def closed_for_size(self, sid: str) -> bool:
        """Whether the client's websocket failed on a message over ``max_msg_size`` (1009)."""
        environ: dict[str, Any] | None = self._sio.get_environ(sid)
        link: WebSocketLink | None = None if environ is None else environ.get(_ENVIRON_LINK)
        error = None if link is None else link.ws.exception()
        return isinstance(error, WebSocketError) and error.code == WSCloseCode.MESSAGE_TOO_BIG

    async def close_websockets(self, code: int, message: bytes) -> int:
        """Close every session's websocket with ``code`` (e.g. 1012 Service Restart); returns how many.

        A closed transport, unlike a socket.io disconnect, makes clients reconnect by themselves.
        """
        links = [
            env[_ENVIRON_LINK] for env in list(self._sio.environ.values()) if _ENVIRON_LINK in env
        ]
        for link in links:
            await link.ws.close(code=code, message=message)
        return len(links)

    def footprint(self) -> dict[str, int]:
        """engine.io's sessions and socket.io's clients and environs: none once every client left."""
        manager_sids = sum(len(sids) for sids in self._sio.manager.rooms.get("/", {}).values())
        return {
            "engine_sessions": len(self._sio.eio.sockets),
            "environs": len(self._sio.environ),
            "room_members": manager_sids,
        }

    def backlog(self, eio_sid: str) -> int:
        """Packets engine.io holds for the session, not yet taken by the client."""
        socket = self._sio.eio.sockets.get(eio_sid)
        return 0 if socket is None else int(socket.queue.qsize())

    async def drained(self, eio_sid: str) -> None:
        """Wait until the client has taken every packet engine.io held for it."""
        socket = self._sio.eio.sockets.get(eio_sid)
        if socket is not None:
            await socket.queue.join()

    async def send_packet(self, eio_sid: str, pkt: eio_packet.Packet) -> None:
        await self._sio.eio.send_packet(eio_sid, pkt)


class TrackedPacket(eio_packet.Packet):  # type: ignore[misc]
    """An engine.io packet that knows whether engine.io has written it yet.

    A client that upgrades to websocket may still have publications in
    engine.io's queue; writing to its websocket directly before those are out
    would deliver an older value after a newer one.
    """

    written = False

    def encode(self, b64: bool = False) -> str | bytes:
        self.written = True
        encoded: str | bytes = super().encode(b64)
        return encoded


def engine_packet(frame: bytes) -> TrackedPacket:
    """The engine.io MESSAGE packet of a websocket frame ``4<socket.io packet>``."""
    return TrackedPacket(eio_packet.MESSAGE, data=frame[1:].decode())
