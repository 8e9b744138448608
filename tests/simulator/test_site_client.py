"""The simulator against a real aiohttp websocket server on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import orjson
import pytest
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.test_utils import TestServer, get_port_socket

from fleetcore.contract.ingest import IngestType, decode
from fleetcore.contract.site_link import parse_hello, welcome_frame
from fleetcore.settings import Settings
from simulator import SimConfig, Simulation, SimulatorService, SiteClient, ingest_url
from tests.conftest import eventually
from tests.helpers import running_site
from tests.ports import HeldPort

DEADLINE_S = 5.0


@dataclass
class FakeHub:
    """Records what arrives on /_internal, per connection, validated by the real decoder.

    It welcomes a site's hello (then sends ``reply``, if any) but acknowledges nothing.
    """

    connections: list[list[IngestType]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    reply: Mapping[str, object] | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.tokens.append(request.query.get("token", ""))
        self.sockets.append(ws)
        frames: list[IngestType] = []
        self.connections.append(frames)
        async for msg in ws:
            assert msg.type is WSMsgType.TEXT
            hello = parse_hello(msg.data)
            if hello is not None:
                await ws.send_str(welcome_frame(hello.session, 16 << 20).decode())
                if self.reply is not None:
                    await ws.send_str(orjson.dumps(self.reply).decode())
                continue
            frames.append(decode(msg.data).type)
            self.arrived.set()
        return ws

    async def close_sockets(self, app: web.Application) -> None:
        """A stopping hub says goodbye to its sites instead of waiting out their silence."""
        for ws in self.sockets:
            await ws.close(code=WSCloseCode.GOING_AWAY)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/_internal", self.handle)
        app.on_shutdown.append(self.close_sockets)
        return app

    async def wait_for(self, connection: int, *kinds: IngestType) -> list[IngestType]:
        async def seen() -> list[IngestType]:
            while True:
                if len(self.connections) > connection:
                    frames = self.connections[connection]
                    if all(k in frames for k in kinds):
                        return frames
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(seen(), DEADLINE_S)


@contextlib.asynccontextmanager
async def serving(hub: FakeHub, held: HeldPort | None = None) -> AsyncIterator[TestServer]:
    """The fake hub on a port of its own, or on ``held``, where it may come back after a stop."""
    server = TestServer(
        hub.app(), host="127.0.0.1", socket_factory=held.socket if held else get_port_socket
    )
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def running(service: SimulatorService) -> AsyncIterator[SimulatorService]:
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def sim_service(port: int | None, ingest_token: str = "") -> SimulatorService:
    assert port is not None
    config = Settings(
        hub_url=f"http://127.0.0.1:{port}", sim_rate_hz=20.0, ingest_token=ingest_token
    )
    return SimulatorService(
        config,
        simulation=Simulation(SimConfig(robots=4, auto_tasks_s=0)),
        backoff_initial_s=0.05,
    )


EVERY_CONNECT = (
    IngestType.BUILDING_MAP,
    IngestType.DOOR_STATE,
    IngestType.LIFT_STATE,
    IngestType.FLEET_STATE,
)


async def test_map_doors_and_fleet_states_arrive_on_connect_and_again_on_reconnect() -> None:
    hub = FakeHub()
    async with serving(hub) as server, running(sim_service(server.port)):
        first = await hub.wait_for(0, *EVERY_CONNECT)
        assert first[0] is IngestType.BUILDING_MAP
        assert first.count(IngestType.FLEET_STATE) >= 2
        await hub.sockets[0].close()
        second = await hub.wait_for(1, *EVERY_CONNECT)
        assert second[0] is IngestType.BUILDING_MAP


async def test_task_states_are_resent_after_a_hub_restart(held_port: HeldPort) -> None:
    hub = FakeHub()
    port = held_port.port
    service = sim_service(port)
    service.simulation.dispatch({"category": "clean", "description": {"zone": "lobby"}})
    async with running(service):
        async with serving(hub, held_port):
            await hub.wait_for(0, IngestType.TASK_STATE, IngestType.FLEET_STATE)
        async with serving(hub, held_port):
            await hub.wait_for(1, IngestType.BUILDING_MAP, IngestType.TASK_STATE)
    assert service.client.connections == 2


async def test_simulator_keeps_retrying_until_the_hub_comes_up(
    caplog: pytest.LogCaptureFixture, held_port: HeldPort
) -> None:
    hub = FakeHub()
    port = held_port.port
    service = sim_service(port)
    caplog.set_level(logging.INFO, logger="fleethub.sim")
    async with running(service):
        await eventually(lambda: caplog.text.count("hub unreachable") >= 2)
        async with serving(hub, held_port):
            await hub.wait_for(0, *EVERY_CONNECT)


async def test_rejections_from_the_hub_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    hub = FakeHub(reply={"error": "invalid_field", "detail": "data.name: too short"})
    caplog.set_level(logging.WARNING, logger="fleethub.sim")
    async with serving(hub) as server, running(sim_service(server.port)):
        await hub.wait_for(0, IngestType.FLEET_STATE)
        await eventually(lambda: "invalid_field (data.name: too short)" in caplog.text)


async def test_ingest_token_goes_in_the_query_and_never_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = FakeHub()
    caplog.set_level(logging.INFO, logger="fleethub.sim")
    async with serving(hub) as server, running(sim_service(server.port, ingest_token="s3cret")):
        await hub.wait_for(0, IngestType.FLEET_STATE)
    assert hub.tokens == ["s3cret"]
    assert "connected to the hub" in caplog.text and "s3cret" not in caplog.text


async def test_log_frames_sent_while_disconnected_arrive_after_reconnect(
    held_port: HeldPort,
) -> None:
    hub = FakeHub()
    port = held_port.port
    client = SiteClient(f"ws://127.0.0.1:{port}/_internal", on_connect=list, backoff_initial_s=0.05)
    client.send(b'{"type":"fleet_log_update","data":{"name":"f","log":[]}}', durable=True)
    client.send(b'{"type":"fleet_state_update","data":{"name":"f"}}')
    task = asyncio.create_task(client.run())
    try:
        async with serving(hub, held_port):
            frames = await hub.wait_for(0, IngestType.FLEET_LOG)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert frames == [IngestType.FLEET_LOG]


@pytest.mark.parametrize(
    ("hub_url", "token", "expected"),
    [
        ("http://127.0.0.1:8100", "", "ws://127.0.0.1:8100/_internal"),
        ("https://hub.example/site/", "a b", "wss://hub.example/site/_internal?token=a+b"),
    ],
    ids=["plain", "tls-prefix-token"],
)
def test_ingest_url_from_the_hub_url(hub_url: str, token: str, expected: str) -> None:
    assert ingest_url(Settings(hub_url=hub_url, ingest_token=token)) == expected


async def test_other_hub_messages_reach_the_message_handler() -> None:
    command = {"type": "cancel_task_request", "task_id": "t1"}
    hub = FakeHub(reply=command)
    received: list[dict[str, object]] = []
    async with serving(hub) as server:
        client = SiteClient(
            f"ws://127.0.0.1:{server.port}/_internal", on_connect=list, on_message=received.append
        )
        task = asyncio.create_task(client.run())
        try:
            await eventually(lambda: received)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert received == [command]


async def test_a_failing_on_connect_is_logged_at_once_and_the_link_starts_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = FakeHub()
    calls: list[int] = []

    def snapshot() -> list[bytes]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in the site's snapshot")
        return [b'{"type":"fleet_state_update","data":{"name":"f","robots":{}}}']

    async with serving(hub) as server:
        client = SiteClient(
            f"ws://127.0.0.1:{server.port}/_internal", on_connect=snapshot, backoff_initial_s=0.05
        )
        async with running_site(client):
            await hub.wait_for(1, IngestType.FLEET_STATE)
    failure = next(r for r in caplog.records if r.message.startswith("the link to the hub failed"))
    assert failure.levelno == logging.ERROR and failure.exc_info is not None


async def test_a_failing_message_handler_is_logged_and_the_link_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handled: list[dict[str, object]] = []

    def handle(doc: dict[str, object]) -> None:
        handled.append(doc)
        raise ValueError("a bug in the site's command handling")

    hub = FakeHub(reply={"type": "command", "data": {}})
    async with serving(hub) as server:
        client = SiteClient(
            f"ws://127.0.0.1:{server.port}/_internal", on_connect=list, on_message=handle
        )
        async with running_site(client):
            await eventually(lambda: handled)
            client.send(b'{"type":"fleet_log_update","data":{"name":"f","log":[]}}', durable=True)
            await hub.wait_for(0, IngestType.FLEET_LOG)
    assert client.connections == 1
    assert any(
        r.levelno == logging.ERROR and "handling a frame from the hub failed" in r.message
        for r in caplog.records
    )
