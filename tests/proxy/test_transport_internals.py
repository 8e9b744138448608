"""The engine.io / socket.io internals proxy._transport relies on, checked on real connections.

If python-engineio or python-socketio change them, these fail first and say
which one: fix proxy/_transport.py (the only module that uses them).
"""

from __future__ import annotations

import asyncio

import socketio
from aiohttp import web

from proxy._transport import WebSocketLink
from tests.conftest import eventually
from tests.helpers import Subscriber
from tests.proxy.conftest import Proxy


def eio_sid_of(proxy: Proxy, sid: str) -> str:
    eio_sid = proxy.handler._sio.manager.eio_sid_from_sid(sid, "/")
    assert isinstance(eio_sid, str)
    return eio_sid


async def test_engine_io_keeps_what_the_direct_path_needs(proxy: Proxy) -> None:
    client = await Subscriber().connect(proxy.url)
    try:
        sid = client.sio.get_sid()
        eio_sid = eio_sid_of(proxy, sid)
        server = proxy.handler._sio
        assert isinstance(server.environ, dict) and eio_sid in server.environ, "socketio environ"
        assert isinstance(server.environ[eio_sid]["aiohttp.request"], web.Request), "environ key"
        socket = server.eio.sockets[eio_sid]
        assert isinstance(socket.queue, asyncio.Queue) and socket.upgraded, "engine.io socket"
    finally:
        await client.close()


async def test_a_websocket_client_is_written_to_directly(proxy: Proxy) -> None:
    client = await Subscriber().connect(proxy.url)
    try:
        sid = client.sio.get_sid()
        link = proxy.handler.fanout.links.websocket(sid, eio_sid_of(proxy, sid))
        assert isinstance(link, WebSocketLink) and isinstance(link.ws, web.WebSocketResponse)
        assert link.has_room(1024)
    finally:
        await client.close()


async def test_a_client_that_upgrades_from_polling_is_written_to_directly(proxy: Proxy) -> None:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(proxy.url)  # polling first, then the upgrade, as browsers do
    try:
        sid = sio.get_sid()
        assert sid is not None
        links = proxy.handler.fanout.links
        await eventually(lambda: links.websocket(sid, eio_sid_of(proxy, sid)))
    finally:
        await sio.disconnect()


async def test_a_polling_client_goes_through_engine_io(proxy: Proxy) -> None:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(proxy.url, transports=["polling"])
    try:
        sid = sio.get_sid()
        assert sid is not None
        eio_sid = eio_sid_of(proxy, sid)
        assert proxy.handler.fanout.links.websocket(sid, eio_sid) is None
        assert proxy.handler.fanout.links.backlog(eio_sid) >= 0
    finally:
        await proxy.disconnect(sid)
        await eventually(lambda: not sio.connected)
        await sio.disconnect()
