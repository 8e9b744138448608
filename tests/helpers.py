"""What the tests drive the system with: an ingest sender, a socket.io subscriber, a stand-in hub."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import socketio

from fleetcore.aio import cancel_and_wait
from fleetcore.bus import Bus
from fleetcore.contract.envelope import Publication
from fleetcore.site_client import SiteClient
from hub.changes import Row

TEST_SITE_TOKEN = "test-site-token-0123456789"
"""The site token of the ``settings`` fixture; IngestClient presents it unless told otherwise."""
JWT_SECRET = "test-jwt-secret-that-is-long-enough-0123456789"
"""The HS256 secret of the ``auth_settings`` fixture."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class StandInHub:
    """Publishes on a bus as the hub does, for tests that play the hub: ascending seqs, one epoch."""

    def __init__(
        self, bus: Bus, *, epoch: int = 1, received_ms: Callable[[], int] = wall_clock_ms
    ) -> None:
        self.bus = bus
        self.epoch = epoch
        self.seq = 0
        self._received_ms = received_ms

    async def publish(self, room: str, data: Any) -> Publication:
        self.seq += 1
        pub = Publication(room, self.seq, self.epoch, self._received_ms(), orjson.dumps(data))
        await self.bus.publish([pub])
        return pub


class IngestClient:
    """Speaks to /_internal as a fleet adapter would."""

    def __init__(self, base_url: str, token: str = TEST_SITE_TOKEN) -> None:
        self._url = (
            base_url.replace("http", "ws", 1) + "/_internal" + (f"?token={token}" if token else "")
        )
        self._session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> IngestClient:
        self._session = aiohttp.ClientSession()
        try:
            self.ws = await self._session.ws_connect(self._url, max_msg_size=0)
        except BaseException:
            await self._session.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._session is not None:
            await self._session.close()

    async def send(self, type_: str, data: Any) -> None:
        assert self.ws is not None
        await self.ws.send_str(orjson.dumps({"type": type_, "data": data}).decode())

    async def send_raw(self, frame: str) -> None:
        assert self.ws is not None
        await self.ws.send_str(frame)

    async def next_reply(self, timeout: float = 5.0) -> dict[str, Any]:
        assert self.ws is not None
        msg = await self.ws.receive(timeout=timeout)
        return orjson.loads(msg.data)  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def running_site(client: SiteClient) -> AsyncIterator[SiteClient]:
    """A SiteClient running until the block ends, connected (welcomed) when it starts."""
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(client.wait_connected(), 10)
        yield client
    finally:
        await cancel_and_wait(task)


class Subscriber:
    """A socket.io client that records every event per room."""

    def __init__(self, **auth: Any) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.auth = auth or None
        self.events: dict[str, list[Any]] = {}
        self.resyncs: list[dict[str, Any]] = []

        async def record(event: str, data: Any) -> None:
            self.events.setdefault(event, []).append(data)

        async def resync(data: dict[str, Any]) -> None:
            self.resyncs.append(data)

        # Registered by call, not as decorators: socket.io's untyped decorator would untype them.
        self.sio.on("*", record)
        self.sio.on("resync", resync)

    async def connect(self, base_url: str) -> Subscriber:
        await self.sio.connect(base_url, transports=["websocket"], auth=self.auth)
        return self

    async def subscribe(self, room: str, **extra: Any) -> dict[str, Any]:
        return await self.sio.call("subscribe", {"room": room, **extra}, timeout=5)  # type: ignore[no-any-return]

    async def unsubscribe(self, room: str) -> dict[str, Any]:
        return await self.sio.call("unsubscribe", {"room": room}, timeout=5)  # type: ignore[no-any-return]

    def of(self, room: str) -> list[Any]:
        return self.events.get(room, [])

    async def close(self) -> None:
        await self.sio.disconnect()
        await asyncio.sleep(0)


def fleet(name: str, robots: dict[str, tuple[float, float]]) -> dict[str, Any]:
    return {
        "name": name,
        "robots": {
            r: {
                "name": r,
                "status": "idle",
                "task_id": "",
                "unix_millis_time": 1,
                "battery": 0.9,
                "location": {"map": "L1", "x": x, "y": y, "yaw": 0.0},
                "issues": [],
            }
            for r, (x, y) in robots.items()
        },
    }


def position_sample(robot: str, **values: Any) -> Row:
    """A robot position sample's row for the writer, of fleet ``f1`` unless ``values`` say."""
    row = {
        "fleet": "f1",
        "robot": robot,
        "unix_millis_time": 1_700_000_000_123,
        "map": "L1",
        "x": 1.5,
        "y": -2.25,
        "yaw": 3.0,
        "status": "working",
        "battery": 0.5,
    }
    return Row("RobotPositionSample", {**row, **values})
