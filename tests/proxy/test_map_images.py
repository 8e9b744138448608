"""The /building_map room gives image URLs a page on another origin loads, as REST does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from fleetcore.bus.memory import InMemoryBus
from fleetcore.settings import Settings
from proxy.app import create_app
from tests.conftest import eventually, start_server
from tests.helpers import JWT_SECRET, Subscriber
from tests.proxy.conftest import Proxy
from tests.rest_api.test_map_images import BUILDING, SHA


@pytest.fixture
async def signing_proxy(tmp_path: Path) -> AsyncIterator[Proxy]:
    """A proxy with auth off but a secret to sign with, as when auth is on."""
    bus = InMemoryBus()
    settings = Settings(data_dir=tmp_path, auth_mode="off", jwt_secret=JWT_SECRET)
    server = await start_server(create_app(settings, bus))
    try:
        yield Proxy(server, bus)
    finally:
        await server.close()


async def test_the_map_room_carries_absolute_signed_image_urls_for_where_the_client_connected(
    signing_proxy: Proxy,
) -> None:
    await signing_proxy.publish("/building_map", BUILDING)
    client = await Subscriber().connect(signing_proxy.url)
    try:
        await client.subscribe("/building_map")
        [building] = await eventually(lambda: client.of("/building_map"))
    finally:
        await client.close()

    url = urlsplit(building["levels"][0]["images"][0]["data"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == (
        f"{signing_proxy.url}/building_map/images/{SHA}"
    )
    assert set(parse_qs(url.query)) == {"expires", "signature"}


async def test_updates_of_the_map_carry_them_too(signing_proxy: Proxy) -> None:
    client = await Subscriber().connect(signing_proxy.url)
    try:
        await client.subscribe("/building_map")
        await signing_proxy.publish("/building_map", BUILDING)
        [building] = await eventually(lambda: client.of("/building_map"))
    finally:
        await client.close()

    assert building["levels"][0]["images"][0]["data"].startswith(signing_proxy.url + "/")
