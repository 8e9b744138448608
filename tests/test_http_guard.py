"""Origin checking, CORS and body sizes on the embedded app: REST and socket.io behind one guard."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from fleetcore.errors import ConfigError
from fleetcore.http_guard import OriginPolicy
from fleetcore.settings import Settings
from tests.conftest import start_embedded

ALLOWED = "https://ops.example"
BODY_LIMIT = 4096


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("fleethub_http_rejected_total", {"reason": reason}) or 0.0


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[TestServer]:
    configured = settings.replace(allowed_origins=(ALLOWED,), api_max_body_bytes=BODY_LIMIT)
    server = await start_embedded(configured)
    try:
        yield server
    finally:
        await server.close()


async def get(server: TestServer, path: str, **headers: str) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as session:
        response = await session.get(server.make_url(path), headers=headers)
        await response.read()
        return response


@pytest.mark.parametrize("path", ["/fleets", "/socket.io/?EIO=4&transport=polling"])
async def test_a_foreign_origin_is_refused_with_403_and_counted(
    server: TestServer, path: str
) -> None:
    before = rejected("origin_not_allowed")
    response = await get(server, path, Origin="https://evil.example")
    assert response.status == 403
    assert rejected("origin_not_allowed") == before + 1


async def test_a_foreign_origin_cannot_open_a_socketio_websocket(server: TestServer) -> None:
    url = str(server.make_url("/socket.io/?EIO=4&transport=websocket")).replace("http", "ws", 1)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url, headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403


@pytest.mark.parametrize(
    "origin",
    [ALLOWED, "http://localhost:5173", "http://127.0.0.1:3000"],
    ids=["configured", "localhost", "loopback"],
)
async def test_an_allowed_origin_gets_cors_headers_for_itself_never_a_wildcard(
    server: TestServer, origin: str
) -> None:
    response = await get(server, "/fleets", Origin=origin)
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "X-Fleethub-Seq" in response.headers["Access-Control-Expose-Headers"]


async def test_the_servers_own_origin_is_allowed(server: TestServer) -> None:
    own = f"http://{server.host}:{server.port}"
    assert (await get(server, "/fleets", Origin=own)).status == 200


async def test_a_request_without_origin_is_no_browsers_and_passes(server: TestServer) -> None:
    response = await get(server, "/fleets")
    assert response.status == 200 and "Access-Control-Allow-Origin" not in response.headers


async def test_a_preflight_from_an_allowed_origin_is_answered(server: TestServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.options(
            server.make_url("/tasks/dispatch_task"),
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        ) as response,
    ):
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert response.headers["Access-Control-Allow-Headers"] == "authorization, content-type"


async def test_a_body_over_the_limit_is_refused_with_413_and_counted(server: TestServer) -> None:
    before = rejected("body_too_large")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            server.make_url("/tasks/dispatch_task"), data=b"x" * (BODY_LIMIT + 1)
        ) as response,
    ):
        assert response.status == 413
        assert str(BODY_LIMIT) in (await response.json())["detail"]
    assert rejected("body_too_large") == before + 1


async def test_a_chunked_body_over_the_limit_is_refused_too(server: TestServer) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * 1024

    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/tasks/dispatch_task"), data=chunks()) as response,
    ):
        assert response.status == 413


def test_no_origin_is_allowed_by_default_but_the_local_ones_and_the_own_ip_address() -> None:
    policy = OriginPolicy.from_settings(Settings())
    assert not policy.any_origin and not policy.allowed
    assert not policy.allows("https://evil.example", ("fleethub.example",))
    assert not policy.allows("null", ("fleethub.example",))
    assert policy.allows("http://localhost:5173", ("fleethub.example",))
    assert policy.allows("http://10.0.0.5:8000", ("10.0.0.5:8000",))
    assert policy.allows("http://[fd00::5]:8000", ("[fd00::5]:8000",))


def test_an_origin_equal_to_the_host_header_is_not_enough_dns_rebinding() -> None:
    policy = OriginPolicy.from_settings(Settings())
    assert not policy.allows("http://evil.example:8000", ("evil.example:8000",))
    assert not policy.allows("https://fleethub.example", ("fleethub.example",))


def test_the_public_urls_origin_is_allowed() -> None:
    policy = OriginPolicy.from_settings(Settings(public_url="https://Fleethub.example/api"))
    assert policy.allows("https://fleethub.example", ("fleethub.example",))
    assert not policy.allows("http://fleethub.example", ("fleethub.example",))


def test_a_malformed_allowed_origin_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="ALLOWED_ORIGINS"):
        OriginPolicy.from_settings(Settings(allowed_origins=("ops.example/path",)))


async def test_a_malformed_request_is_logged_without_its_bytes_and_counted(
    server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "hunter2-password"
    before = rejected("malformed_request")
    reader, writer = await asyncio.open_connection(server.host, server.port)
    # A header line without a colon: aiohttp's parser refuses the request, quoting what it read.
    writer.write(f"POST /auth/token HTTP/1.1\r\nHost: x\r\npassword={secret}\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()

    assert b" 400 " in status_line
    assert rejected("malformed_request") == before + 1
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records and all(r.levelno < logging.WARNING and r.exc_info is None for r in records)
    assert secret not in caplog.text
