"""Fan-out over real sockets: encode once, polling fallback, slow clients held in bounds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from prometheus_client import REGISTRY

from fleetcore.bus.memory import InMemoryBus
from fleetcore.settings import Settings
from proxy.app import create_app
from proxy.delivery import Connection, DeliveryConfig
from tests.conftest import eventually, start_server
from tests.helpers import Subscriber
from tests.proxy.conftest import LOG_BUFFER, BareClient, Proxy

STATE = "/fleets/f1/state"
LOG = "/tasks/t1/log"
BIG = "x" * 256 * 1024
"""A payload large enough that a client that stops reading fills the socket buffers quickly."""


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(f"fleethub_socket_{name}_total") or 0.0


def held_for(proxy: Proxy, sid: str) -> Connection | None:
    """The proxy's delivery to one client, reached through its subscriptions."""
    subscriptions = proxy.handler.fanout.subscriptions_of(sid)
    return subscriptions[0][1].conn if subscriptions else None


async def test_a_publication_is_encoded_once_for_all_its_subscribers(proxy: Proxy) -> None:
    clients = [await Subscriber().connect(proxy.url) for _ in range(20)]
    enveloped = await Subscriber(envelopes=True).connect(proxy.url)
    try:
        for client in (*clients, enveloped):
            await client.subscribe(STATE)
        before = sample("frames_encoded")
        await proxy.publish(STATE, {"n": 1})
        await eventually(lambda: all(c.of(STATE) for c in (*clients, enveloped)))
        assert sample("frames_encoded") - before == 2  # plain once, envelope once
        assert all(c.of(STATE) == [{"n": 1}] for c in clients)
        assert enveloped.of(STATE)[0]["data"] == {"n": 1}
    finally:
        for client in (*clients, enveloped):
            await client.close()


async def test_a_long_polling_client_still_receives(proxy: Proxy) -> None:
    received: list[Any] = []
    sio = socketio.AsyncClient(reconnection=False)
    sio.on(STATE, received.append)
    await sio.connect(proxy.url, transports=["polling"])
    try:
        assert await sio.call("subscribe", {"room": STATE}, timeout=5) == {"success": True}
        for n in range(3):
            await proxy.publish(STATE, {"n": n})
        await eventually(lambda: received and received[-1] == {"n": 2})
        assert sio.transport() == "polling"
        assert [r["n"] for r in received] == sorted(r["n"] for r in received)
    finally:
        await proxy.disconnect(sio.get_sid())
        await eventually(lambda: not sio.connected)
        await sio.disconnect()  # closes the client's HTTP session


async def test_a_client_that_stops_reading_does_not_delay_the_others(proxy: Proxy) -> None:
    slow = await BareClient().connect(proxy.url)
    fast = await Subscriber().connect(proxy.url)
    try:
        await slow.subscribe(STATE)
        await fast.subscribe(STATE)
        for n in range(100):  # 25 MB: more than the kernel buffers of one connection
            await proxy.publish(STATE, {"n": n, "pad": BIG})
            await eventually(lambda: fast.of(STATE) and fast.of(STATE)[-1]["n"] == n)  # noqa: B023
        held_for_slow = held_for(proxy, slow.sid)
        assert held_for_slow is not None and held_for_slow.parked and held_for_slow.held() <= 1
    finally:
        await fast.close()
        await slow.close()


async def test_a_slow_client_gets_the_newest_state_and_never_an_older_one(proxy: Proxy) -> None:
    slow = await BareClient().connect(proxy.url)
    try:
        await slow.subscribe(STATE)
        coalesced = sample("coalesced")
        for n in range(60):
            await proxy.publish(STATE, {"n": n, "pad": BIG})
        await eventually(lambda: sample("coalesced") > coalesced)
        await slow.read_until_quiet()
        seen = [data["n"] for data in slow.of(STATE)]
        assert seen[-1] == 59
        assert seen == sorted(set(seen)) and len(seen) < 60
    finally:
        await slow.close()


async def test_a_log_buffer_overflow_makes_the_client_resync(proxy: Proxy) -> None:
    slow = await BareClient().connect(proxy.url)
    try:
        await slow.subscribe(LOG, envelope=True)
        dropped, resyncs = sample("dropped"), sample("overflow_resyncs")
        published = [await proxy.publish(LOG, {"pad": BIG}) for _ in range(60)]
        await eventually(lambda: sample("overflow_resyncs") > resyncs)
        held_for_slow = held_for(proxy, slow.sid)
        assert held_for_slow is not None and held_for_slow.held() <= LOG_BUFFER + 1
        await slow.read_until_quiet()
        resync = slow.of("resync")[-1]
        assert set(resync) == {"room", "reason", "seq", "epoch"} and resync["room"] == LOG
        after = [env["seq"] for env in slow.of(LOG) if env["seq"] > resync["seq"]]
        assert after == [seq for seq in published if seq > resync["seq"]]
        assert after
        assert sample("dropped") > dropped
    finally:
        await slow.close()


async def test_a_client_upgrading_mid_stream_never_gets_an_older_state(proxy: Proxy) -> None:
    received: list[int] = []
    sio = socketio.AsyncClient(reconnection=False)
    sio.on(STATE, lambda data: received.append(data["n"]))
    await sio.connect(proxy.url)  # polling, then the upgrade while publications flow
    try:
        assert await sio.call("subscribe", {"room": STATE}, timeout=5) == {"success": True}
        n = 0
        while sio.transport() != "websocket" or n < 50:
            await proxy.publish(STATE, {"n": n})
            n += 1
            await asyncio.sleep(0.002)
            assert n < 5000, "the client never upgraded"
        await eventually(lambda: received and received[-1] == n - 1)
        assert received == sorted(set(received))
    finally:
        await sio.disconnect()


async def _deflate_client(proxy: Proxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A websocket client that negotiates permessage-deflate, as browsers do, and reads raw frames."""
    reader, writer = await asyncio.open_connection(proxy.server.host, proxy.server.port)
    writer.write(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"101" in head.split(b"\r\n")[0] and b"permessage-deflate" in head
    return reader, writer


async def _raw_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One server frame: its first byte (FIN, RSV1-3, opcode) and its payload as sent."""
    first, second = await reader.readexactly(2)
    size = second & 0x7F
    if size == 126:
        size = int.from_bytes(await reader.readexactly(2), "big")
    elif size == 127:
        size = int.from_bytes(await reader.readexactly(8), "big")
    return first, await reader.readexactly(size)


def _masked(text: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    return (
        bytes((0x81, 0x80 | len(text))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text))
    )


async def test_a_deflate_client_gets_publications_uncompressed(proxy: Proxy) -> None:
    """Compressing is per client (its own deflate context): the shared frame is sent as it is."""
    reader, writer = await _deflate_client(proxy)
    try:
        await _raw_frame(reader)  # engine.io open
        writer.write(_masked(b"40"))
        await _raw_frame(reader)  # socket.io connect
        writer.write(_masked(b'420["subscribe",{"room":"' + STATE.encode() + b'"}]'))
        await _raw_frame(reader)  # the ack
        await proxy.publish(STATE, {"n": 1})
        first, payload = await asyncio.wait_for(_raw_frame(reader), 10)
        assert first == 0x81  # FIN, text, RSV1 clear: not compressed
        assert payload == b'42["' + STATE.encode() + b'",{"n":1}]'
    finally:
        writer.close()


@pytest.fixture
async def gathering(tmp_path: Path) -> AsyncIterator[Proxy]:
    """A proxy whose gathering window never ends by itself: the test ends it (``flush``)."""
    bus = InMemoryBus()
    settings = Settings(data_dir=tmp_path, auth_mode="off")
    server = await start_server(create_app(settings, bus, DeliveryConfig(gather_s=3600)))
    try:
        yield Proxy(server, bus)
    finally:
        await server.close()


def count_writes(proxy: Proxy, sid: str) -> list[bytes]:
    """What the proxy writes to one client's socket, one item a write."""
    eio_sid = proxy.handler._sio.manager.eio_sid_from_sid(sid, "/")
    link = proxy.handler.fanout.links.websocket(sid, eio_sid)
    assert link is not None
    transport = link._transport
    writes: list[bytes] = []
    write = transport.write

    def counted(data: bytes | bytearray | memoryview) -> None:
        writes.append(bytes(data))
        write(data)

    transport.write = counted  # type: ignore[method-assign]
    return writes


async def test_broadcasts_that_follow_closely_reach_a_client_in_one_write(gathering: Proxy) -> None:
    client = await BareClient().connect(gathering.url)
    try:
        await client.subscribe(STATE)
        writes = count_writes(gathering, client.sid)
        for n in range(5):
            await gathering.publish(STATE, {"n": n})
        gathering.handler.fanout.gatherer.flush()
        for _ in range(5):
            assert await client.read(5)
        assert [data["n"] for data in client.of(STATE)] == [0, 1, 2, 3, 4]
        assert len(writes) == 2  # the first at once, the four after it gathered into one
    finally:
        await client.close()


async def test_a_subscribe_is_acked_after_what_was_gathered_for_the_client(
    gathering: Proxy,
) -> None:
    client = await BareClient().connect(gathering.url)
    try:
        await client.subscribe(STATE)
        await gathering.publish(STATE, {"n": 0})
        await gathering.publish(STATE, {"n": 1})  # gathered
        await client.subscribe("/fleets/f2/state")
        assert [data["n"] for data in client.of(STATE)] == [0, 1]
    finally:
        await client.close()
