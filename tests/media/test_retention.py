"""Retention: media past its kind's byte budget goes, oldest first, and shared bytes stay."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from fleetcore.store import models as db
from rest_api.media_retention import prune_media
from rest_api.media_service import MEDIA_KEY
from tests.media.conftest import ROBOT
from tests.media.tus import TusClient, jpeg

pytestmark = pytest.mark.integration


async def _upload(tus: TusClient, data: bytes, captured: int) -> str:
    _, url, _ = await tus.create(
        len(data), attached_to="robot", attached_id=ROBOT, capture_time=str(captured)
    )
    assert (await tus.patch(url, 0, data)).status == 204
    return url.rsplit("/", 1)[1]


async def test_pruning_by_size_removes_the_oldest_past_the_budget(
    tus: TusClient, server: TestServer
) -> None:
    files = [jpeg(20_000, seed) for seed in range(3)]
    ids = [await _upload(tus, data, 1000 + n) for n, data in enumerate(files)]
    service = server.app[MEDIA_KEY]
    oldest = await db.Media.get(id=ids[0])

    removed = await prune_media(
        service, 0, len(files[1]) + len(files[2]), oldest.unix_millis_upload_time
    )

    assert removed == {"image": 1}
    assert sorted(media.id for media in await db.Media.all()) == sorted(ids[1:])
    assert not await service.store.exists(oldest.sha256)


async def test_bytes_another_row_still_names_are_kept(tus: TusClient, server: TestServer) -> None:
    data = jpeg(20_000)
    first = await _upload(tus, data, 1000)
    await _upload(tus, data, 2000)
    service = server.app[MEDIA_KEY]
    sha256 = (await db.Media.get(id=first)).sha256

    await prune_media(service, 0, len(data), 0)

    assert await db.Media.filter(sha256=sha256).count() == 1
    assert await service.store.exists(sha256)
