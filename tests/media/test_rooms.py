"""New media reaches the room of what it is attached to, for those who may read it there."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.contract import rooms
from fleetcore.settings import Settings
from fleetcore.store import models
from tests.conftest import eventually, start_embedded
from tests.helpers import TEST_SITE_TOKEN, Subscriber
from tests.media.tus import TusClient, jpeg
from tests.proxy.conftest import AuthProxy, _user_store

pytestmark = pytest.mark.integration


@pytest.fixture
async def site(auth_settings: Settings) -> AsyncIterator[AuthProxy]:
    """The embedded site with alice (group A: fleet_a) and bob (group B: fleet_b and fleet_a/a2)."""

    server: TestServer = await start_embedded(auth_settings.replace(derive_tick_ms=50))
    await _user_store()
    proxy = AuthProxy(server, None, settings=auth_settings)  # type: ignore[arg-type]
    try:
        yield proxy
    finally:
        for client in proxy.clients:
            await client.close()
        await server.close()


async def _upload(base: str, **attachment: str) -> None:
    data = jpeg(5_000)
    async with aiohttp.ClientSession() as session:
        tus = TusClient(session, base, TEST_SITE_TOKEN)
        status, url, body = await tus.create(len(data), **attachment)
        assert status == 201, body
        assert (await tus.patch(url, 0, data)).status == 204


async def _watching(site: AuthProxy, room: str) -> tuple[Subscriber, Subscriber]:
    alice, bob = await site.client("alice"), await site.client("bob")
    for client in (alice, bob):
        assert (await client.subscribe(room))["success"]
    return alice, bob


def _attached(client: Subscriber, room: str) -> list[str]:
    return [item["attached_id"] for item in client.of(room)]


async def test_a_robots_media_is_published_in_its_fleets_media_room_to_its_readers_only(
    site: AuthProxy,
) -> None:
    room = rooms.FLEET_MEDIA.format(name="fleet_a")
    alice, bob = await _watching(site, room)

    await _upload(site.url, attached_to="robot", attached_id="fleet_a/a1")
    await _upload(site.url, attached_to="robot", attached_id="fleet_a/a2")
    await eventually(lambda: len(alice.of(room)) == 2 and len(bob.of(room)) == 1)

    assert _attached(alice, room) == ["fleet_a/a1", "fleet_a/a2"]
    assert _attached(bob, room) == ["fleet_a/a2"]  # a log room: a1's came first, and not to bob


async def test_an_alerts_media_is_published_in_the_alerts_media_room_to_its_readers_only(
    site: AuthProxy,
) -> None:
    for robot in ("a1", "a2"):
        params = [{"name": "fleet", "value": "fleet_a"}, {"name": "robot", "value": robot}]
        data = {"id": f"stuck_{robot}", "title": "stuck", "alert_parameters": params}
        await models.AlertRequest.create(
            id=f"stuck_{robot}",
            unix_millis_alert_time=1,
            task_id=None,
            response_expected=False,
            condition=None,
            data=orjson.dumps(data).decode(),
            seq=None,
        )
    room = rooms.ALERT_MEDIA.pattern
    alice, bob = await _watching(site, room)

    await _upload(site.url, attached_to="alert", attached_id="stuck_a1")
    await _upload(site.url, attached_to="alert", attached_id="stuck_a2")
    await eventually(lambda: len(alice.of(room)) == 2 and len(bob.of(room)) == 1)

    assert _attached(alice, room) == ["stuck_a1", "stuck_a2"]
    assert _attached(bob, room) == ["stuck_a2"]
