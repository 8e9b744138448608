"""New media reaches subscribers: rest_api stores it, the hub publishes it on /media."""

from __future__ import annotations

import aiohttp
import pytest

from fleetcore.settings import Settings
from fleetcore.store import models
from tests.conftest import eventually, start_embedded
from tests.helpers import Subscriber
from tests.media.conftest import ROBOT
from tests.media.tus import TusClient, jpeg

pytestmark = pytest.mark.integration


async def test_new_media_is_published_with_what_it_is_attached_to(settings: Settings) -> None:

    server = await start_embedded(settings.replace(derive_tick_ms=50))
    try:
        base = str(server.make_url("")).rstrip("/")
        watcher = await Subscriber().connect(base)
        await watcher.subscribe("/media")
        data = jpeg(10_000)
        async with aiohttp.ClientSession() as session:
            tus = TusClient(session, base)
            _, url, _ = await tus.create(len(data), attached_to="robot", attached_id=ROBOT)
            assert (await tus.patch(url, 0, data)).status == 204
        await eventually(lambda: watcher.of("/media"))
        published = watcher.of("/media")[0]
        stored = await models.Media.get(id=published["id"])
        await watcher.close()
    finally:
        await server.close()

    assert (published["attached_to"], published["attached_id"]) == ("robot", ROBOT)
    assert (published["fleet"], published["robot"]) == tuple(ROBOT.split("/"))
    assert stored.seq is not None
