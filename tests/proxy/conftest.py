"""A proxy on a real loopback port fed by an in-process bus, and a bare socket.io client.

The bare client speaks the socket.io wire protocol over an aiohttp websocket
so a test can stop reading from it: aiohttp then stops reading the socket and
TCP pushes back on the proxy, which is what a slow browser does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from fleetcore.auth import Authenticator, users
from fleetcore.bus import Bus
from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.envelope import Publication
from fleetcore.settings import Settings
from proxy.app import HANDLER_KEY, attach, create_app
from proxy.delivery import DeliveryConfig
from proxy.handler_socketio import SocketHandler
from tests.conftest import start_server
from tests.helpers import Subscriber

LOG_BUFFER = 5
"""Small enough that a test overflows it with a handful of publications."""


@dataclass
class Proxy:
    server: TestServer
    bus: Bus
    seq: int = 0

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def handler(self) -> SocketHandler:
        return self.server.app[HANDLER_KEY]

    async def disconnect(self, sid: str) -> None:
        """End a client's session from the server side.

        A long-polling python-socketio client that disconnects by itself waits
        for its pending poll, which engine.io only answers at the next ping.
        """
        await self.handler._sio.disconnect(sid)

    async def publish(self, room: str, data: dict[str, Any]) -> int:
        self.seq += 1
        await self.bus.publish([Publication(room, self.seq, 1, self.seq, orjson.dumps(data))])
        return self.seq


@pytest.fixture
async def proxy(tmp_path: Path) -> AsyncIterator[Proxy]:
    bus = InMemoryBus()
    settings = Settings(data_dir=tmp_path, auth_mode="off")
    app = create_app(settings, bus, DeliveryConfig(log_buffer=LOG_BUFFER))
    server = await start_server(app)
    try:
        yield Proxy(server, bus)
    finally:
        await server.close()


class BareClient:
    """socket.io over a websocket, read only when the test says so."""

    def __init__(self) -> None:
        self._session = aiohttp.ClientSession()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._acks = 0
        self.sid = ""
        self.events: list[tuple[str, Any]] = []

    async def connect(self, base_url: str) -> BareClient:
        url = base_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self._ws = await self._session.ws_connect(url, max_msg_size=0)
        assert (await self._ws.receive_str()).startswith("0")
        await self._ws.send_str("40")
        connected = await self._ws.receive_str()
        assert connected.startswith("40")
        self.sid = orjson.loads(connected[2:])["sid"]
        return self

    async def subscribe(self, room: str, **extra: Any) -> Any:
        """Subscribe and wait for the ack; events that come first are recorded."""
        assert self._ws is not None
        ack = self._acks
        self._acks += 1
        await self._ws.send_str(
            f"42{ack}" + orjson.dumps(["subscribe", {"room": room, **extra}]).decode()
        )
        while True:
            frame = await self._ws.receive_str(timeout=5)
            if frame.startswith(f"43{ack}"):
                return orjson.loads(frame[2 + len(str(ack)) :])[0]
            self._record(frame)

    async def read(self, timeout: float = 0.2) -> bool:
        """Take one frame if one arrives within ``timeout``; False when none did."""
        assert self._ws is not None
        try:
            frame = await self._ws.receive_str(timeout=timeout)
        except TimeoutError:
            return False
        self._record(frame)
        return True

    async def read_until_quiet(self, quiet: float = 0.5, most: int = 10_000) -> None:
        """Take frames until none arrives for ``quiet`` seconds (at most ``most`` of them)."""
        for _ in range(most):
            if not await self.read(quiet):
                return

    def _record(self, frame: str) -> None:
        if frame == "2":
            return
        assert frame.startswith("42"), frame
        event, data = orjson.loads(frame[2:])
        self.events.append((event, data))

    def of(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        await self._session.close()

    async def drop(self) -> None:
        """Close the TCP connection without a websocket close, as a lost network does."""
        await self._session.close()


GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "group_a": {"fleet": ("fleet_a",), "door": ("door_a",), "lift": ("lift_a",)},
    "group_b": {
        "fleet": ("fleet_b",),
        "robot": ("fleet_a/a2",),
        "door": ("door_b",),
        "lift": ("lift_b",),
    },
}
"""Alice's group A names fleet_a, Bob's group B fleet_b and one robot of fleet_a (a2)."""
READER = ("robot_read", "task_read", "task_submit", "task_cancel", "alert_respond")
USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "alice": ("group_a", READER),
    "bob": ("group_b", READER),
    "carol": ("group_a", ("door_control",)),
}
"""Carol is in group A but reads nothing: she sees its objects without the permission to read them."""


@dataclass
class AuthProxy(Proxy):
    """A proxy that authenticates against a real user store; the test publishes as the hub."""

    settings: Settings = field(default_factory=Settings)
    clients: list[Subscriber] = field(default_factory=list)

    def token(self, username: str, ttl_s: float = 3600.0) -> str:
        return Authenticator(self.settings).verifier.issue(username, ttl_s)[0]

    async def client(self, username: str, ttl_s: float = 3600.0) -> Subscriber:
        client = await Subscriber(token=self.token(username, ttl_s)).connect(self.url)
        self.clients.append(client)
        return client


async def _user_store() -> None:
    for group, members in GROUPS.items():
        await users.create_group(group)
        for kind, names in members.items():
            for name in names:
                await users.add_member(group, kind, name)
    for username, (group, permissions) in USERS.items():
        role = f"{username}_role"
        await users.create_role(role)
        for permission in permissions:
            await users.grant(role, permission, group)
        await users.create_user(username)
        await users.set_user_roles(username, [role])
    await users.create_user("root", is_admin=True)


@pytest.fixture
async def auth_proxy(auth_settings: Settings, database: None, bus: Bus) -> AsyncIterator[AuthProxy]:
    """alice, bob, carol and the admin root in a real user store, a proxy that checks their tokens.

    Its settings are ``auth_settings``: a test module overrides that fixture to change limits.
    """
    await _user_store()
    app = web.Application()
    attach(app, auth_settings, bus)
    proxy = AuthProxy(await start_server(app), bus, settings=auth_settings)
    try:
        yield proxy
    finally:
        for client in proxy.clients:
            await client.close()
        await proxy.server.close()
