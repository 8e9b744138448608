"""Fan-out over real sockets: encode once, polling fallback, slow clients held in bounds."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio
from prometheus_client import REGISTRY

from proxy.delivery import Connection
from tests.conftest import eventually
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
