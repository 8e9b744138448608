"""Clients that come and go leave nothing behind in the proxy, however they leave.

A proxy runs for months while clients connect and leave, so every structure
it keeps per client (session, delivery connection, room membership, and
engine.io's and socket.io's own) must be gone once the client is: counted by
structure (``SocketHandler.footprint``), not by memory. ``bench/proxy_churn.py``
measures the same at 1,000 clients and 20 a second.
"""

from __future__ import annotations

import aiohttp

from tests.conftest import eventually
from tests.helpers import Subscriber
from tests.proxy.conftest import BareClient, Proxy

ROOM = "/fleets/f/state"
LOG_ROOM = "/tasks/t1/log"
ROUNDS = 5


async def abandon(base_url: str) -> None:
    """Ask to connect to the namespace and go before the proxy answers."""
    async with aiohttp.ClientSession() as session:
        url = base_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        ws = await session.ws_connect(url)
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str("40")


async def test_every_way_of_leaving_leaves_no_per_client_structure(proxy: Proxy) -> None:
    await proxy.publish(ROOM, {"name": "f", "robots": {}})
    empty = proxy.handler.footprint()
    assert set(empty.values()) == {0}, empty
    for _ in range(ROUNDS):
        polite = await Subscriber().connect(proxy.url)
        assert (await polite.subscribe(ROOM))["success"]
        closing = await BareClient().connect(proxy.url)
        assert (await closing.subscribe(LOG_ROOM, since=0))["success"]
        dropping = await BareClient().connect(proxy.url)
        assert (await dropping.subscribe(ROOM))["success"]
        assert (await dropping.subscribe(LOG_ROOM, since=0))["success"]
        held = proxy.handler.footprint()
        assert held["sessions"] == held["connections"] == held["engine_sessions"] == 3, held
        assert held["rooms"] == 2, held

        await polite.close()  # a socket.io disconnect
        await closing.close()  # a websocket close, no socket.io disconnect
        await dropping.drop()  # the TCP connection ends, no close at all
        await abandon(proxy.url)  # gone while the proxy was connecting it
    await eventually(lambda: proxy.handler.footprint() == empty, timeout=30)
