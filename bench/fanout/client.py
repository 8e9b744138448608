"""One client process of bench/fanout: many bare websocket clients in one event loop.

Each client is an ``asyncio.Protocol`` that speaks just enough of engine.io v4 /
socket.io v5 (or of graphql-transport-ws) over a websocket (open, connect, ``subscribe`` with an ack,
ping/pong, events) and parses frames itself, so that counting a delivered
message costs the client far less than sending it costs any server: the
clients must not be what limits the measurement.

Driven over stdin/stdout by ``bench.fanout.run``, one JSON line per answer:
it prints ``{"ready": n}`` once its clients are subscribed, then answers
``count`` (messages received so far), ``report`` (received messages per 100 ms
of wall clock, and publish-to-receive latencies in ms, both since the last
report), ``latency on|off`` (whether to read the publish time ``t`` from each
message), ``quit``.

With TOKENS (comma separated), client ``i`` connects with ``auth: {token:
TOKENS[i % len]}``, as rmf-web's dashboard does.

With ``--graphql`` the clients speak graphql-transport-ws to the API process's
``/graphql`` and subscribe to ROOM's ``fleetState`` instead.

Run: ``python -m bench.fanout.client [--graphql] HOST PORT ROOM COUNT [TOKENS]``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

from bench.fanout.servers import raise_fd_limit
from fleetcore.contract.rooms import match_room
from rest_api.graphql.context import GRAPHQL_PATH

CONNECT_TIMEOUT = 300.0
PARALLEL_CONNECTS = 64


def masked_text_frame(text: bytes) -> bytes:
    """A client-to-server text frame (clients must mask; these messages are short)."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(text))
    if len(text) < 126:
        return bytes((0x81, 0x80 | len(text))) + mask + body
    assert len(text) < 1 << 16
    return bytes((0x81, 0x80 | 126)) + len(text).to_bytes(2, "big") + mask + body


class Stats:
    """What every client of this process received, shared so one report covers them all."""

    def __init__(self) -> None:
        self.count = 0
        self.buckets: Counter[int] = Counter()
        self.latency = False
        self.latencies_ms: list[float] = []


class WebSocketClient(asyncio.Protocol):
    """A bare websocket client that parses frames itself and counts the updates being measured."""

    def __init__(self, host: str, port: int, stats: Stats, path: str, extra_headers: str) -> None:
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
        ).encode()
        self._stats = stats
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._upgraded = False
        self.subscribed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(f"closed before subscribing: {exc}"))

    def _send(self, text: bytes) -> None:
        assert self._transport is not None
        self._transport.write(masked_text_frame(text))

    def _upgraded_now(self) -> None:
        """The handshake is done (graphql-transport-ws speaks first; socket.io waits)."""

    def _is_update(self, buf: bytearray, start: int) -> bool:
        raise NotImplementedError

    def _control(self, packet: bytes) -> None:
        raise NotImplementedError

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos = 0
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(bytes(buf[:200]).decode(errors="replace"))
            self._upgraded = True
            pos = end + 4
            self._upgraded_now()
        stats = self._stats
        received = 0
        now = time.time()
        size = len(buf)
        while size - pos >= 2:
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            start = pos + head
            if size - start < length:
                break
            pos = start + length
            if length > 2 and self._is_update(buf, start):
                received += 1
                if stats.latency:
                    t_at = buf.find(b'"t":', start, pos) + 4
                    sent = float(buf[t_at : buf.find(b",", t_at, pos)])
                    stats.latencies_ms.append((now - sent) * 1000.0)
            else:
                self._control(bytes(buf[start:pos]))
        del buf[:pos]
        if received:
            stats.count += received
            stats.buckets[int(now * 10)] += received


class SocketIOClient(WebSocketClient):
    def __init__(self, host: str, port: int, room: str, stats: Stats, token: str | None) -> None:
        super().__init__(host, port, stats, "/socket.io/?EIO=4&transport=websocket", "")
        self._room = room
        self._connect = b"40" + (orjson.dumps({"token": token}) if token else b"")

    def _is_update(self, buf: bytearray, start: int) -> bool:
        # engine.io "42" is a socket.io EVENT: the messages being measured.
        return buf[start] == 0x34 and buf[start + 1] == 0x32

    def _control(self, packet: bytes) -> None:
        if packet == b"2":  # engine.io ping
            self._send(b"3")
        elif packet.startswith(b"0"):  # engine.io open: connect to the default namespace
            self._send(self._connect)
        elif packet.startswith(b"40"):  # socket.io connected: subscribe, ack id 0
            self._send(b"420" + orjson.dumps(["subscribe", {"room": self._room}]))
        elif packet.startswith(b"430") and not self.subscribed.done():
            self.subscribed.set_result(None)


class GraphQLClient(WebSocketClient):
    """graphql-transport-ws: ``connection_init``, then one ``fleetState`` subscription.

    Updates are the ``next`` messages that carry data (a resync carries none);
    the first (the room's sticky value) tells that the subscription is live.
    """

    def __init__(self, host: str, port: int, room: str, stats: Stats, token: str | None) -> None:
        super().__init__(
            host, port, stats, GRAPHQL_PATH, "Sec-WebSocket-Protocol: graphql-transport-ws\r\n"
        )
        fleet = match_room(room).params["name"]
        self._init = orjson.dumps(
            {
                "type": "connection_init",
                "payload": {"Authorization": f"Bearer {token}"} if token else {},
            }
        )
        query = "subscription($n: String!) { fleetState(name: $n) { seq data } }"
        self._subscribe = orjson.dumps(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"n": fleet}}}
        )

    def _upgraded_now(self) -> None:
        self._send(self._init)

    def _is_update(self, buf: bytearray, start: int) -> bool:
        if buf.find(b'"t":', start, start + 200) < 0:
            return False
        if not self.subscribed.done():
            self.subscribed.set_result(None)
        return True

    def _control(self, packet: bytes) -> None:
        message = orjson.loads(packet) if packet[:1] == b"{" else {}
        kind = message.get("type")
        if kind == "connection_ack":
            self._send(self._subscribe)
        elif kind == "ping":
            self._send(b'{"type":"pong"}')
        elif kind in ("error", "complete"):
            raise ConnectionError(f"subscription ended: {message}")


NewClient = Callable[[str, int, str, Stats, str | None], WebSocketClient]
"""A client's class: host, port, room, the shared stats, a token."""


async def connect_all(
    client: NewClient,
    host: str,
    port: int,
    room: str,
    count: int,
    stats: Stats,
    tokens: list[str],
) -> list[asyncio.Transport]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(PARALLEL_CONNECTS)
    transports: list[asyncio.Transport] = []

    async def one(i: int) -> None:
        token = tokens[i % len(tokens)] if tokens else None
        async with gate:
            transport, protocol = await loop.create_connection(
                lambda: client(host, port, room, stats, token), host, port
            )
            transports.append(transport)
            await protocol.subscribed

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(count))), CONNECT_TIMEOUT)
    return transports


def answer(body: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(body).decode() + "\n")
    sys.stdout.flush()


async def serve_commands(stats: Stats) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "count":
            answer({"count": stats.count})
        elif line == "report":
            answer(
                {
                    "buckets": {str(k): n for k, n in stats.buckets.items()},
                    "latencies_ms": stats.latencies_ms,
                }
            )
            stats.buckets.clear()
            stats.latencies_ms = []
        elif line.startswith("latency "):
            stats.latency = line.endswith("on")
            answer({"latency": stats.latency})
        elif line == "quit":
            return


async def main() -> None:
    argv = sys.argv[1:]
    client: NewClient = SocketIOClient
    if argv[0] == "--graphql":
        client, argv = GraphQLClient, argv[1:]
    host, port, room, count = argv[0], int(argv[1]), argv[2], int(argv[3])
    tokens = argv[4].split(",") if len(argv) > 4 else []
    raise_fd_limit()
    stats = Stats()
    transports = await connect_all(client, host, port, room, count, stats, tokens)
    answer({"ready": len(transports)})
    await serve_commands(stats)
    for transport in transports:
        transport.close()


if __name__ == "__main__":
    asyncio.run(main())
