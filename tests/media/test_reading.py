"""Reading media: ranges for seeking, ETags for caches, signed URLs for tags, thumbnails."""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp
import pytest

from fleetcore.auth import users
from fleetcore.bus import Bus
from fleetcore.settings import Settings
from rest_api.access import AUTH_KEY
from rest_api.app import create_app
from tests.conftest import start_server
from tests.helpers import TEST_SITE_TOKEN
from tests.media.conftest import ROBOT
from tests.media.tus import TusClient, jpeg

pytestmark = pytest.mark.integration


async def _uploaded(tus: TusClient, data: bytes) -> dict[str, Any]:
    _, url, _ = await tus.create(len(data), attached_to="robot", attached_id=ROBOT)
    assert (await tus.patch(url, 0, data)).status == 204
    async with tus.session.get(tus.base + "/media", params={"attached_id": ROBOT}) as response:
        items: list[dict[str, Any]] = await response.json()
    return items[0]


async def test_a_range_is_answered_206_with_those_bytes(tus: TusClient) -> None:
    data = jpeg(100_000)
    item = await _uploaded(tus, data)

    async with tus.session.get(item["url"], headers={"Range": "bytes=1000-1999"}) as response:
        body = await response.read()

    assert response.status == 206
    assert response.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    assert body == data[1000:2000]


async def test_a_suffix_range_is_the_files_end(tus: TusClient) -> None:
    data = jpeg(100_000)
    item = await _uploaded(tus, data)

    async with tus.session.get(item["url"], headers={"Range": "bytes=-500"}) as response:
        body = await response.read()

    assert (response.status, body) == (206, data[-500:])


async def test_a_range_past_the_end_is_416(tus: TusClient) -> None:
    data = jpeg(10_000)
    item = await _uploaded(tus, data)

    async with tus.session.get(item["url"], headers={"Range": f"bytes={len(data)}-"}) as response:
        assert response.status == 416
        assert response.headers["Content-Range"] == f"bytes */{len(data)}"


async def test_the_whole_file_carries_its_hash_as_etag_and_is_cached_privately(
    tus: TusClient,
) -> None:
    data = jpeg(10_000)
    item = await _uploaded(tus, data)

    async with tus.session.get(item["url"]) as response:
        body = await response.read()
    async with tus.session.get(
        item["url"], headers={"If-None-Match": response.headers["ETag"]}
    ) as again:
        pass

    assert body == data
    assert response.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert response.headers["Cache-Control"].startswith("private, max-age=")
    assert again.status == 304


async def test_an_image_has_a_small_jpeg_thumbnail(tus: TusClient) -> None:
    from io import BytesIO

    from PIL import Image

    item = await _uploaded(tus, jpeg(200_000))

    async with tus.session.get(item["thumbnail_url"]) as response:
        thumbnail = Image.open(BytesIO(await response.read()))

    assert response.status == 200
    assert thumbnail.format == "JPEG"
    assert max(thumbnail.size) <= 320


async def test_a_file_pillow_cannot_read_has_no_thumbnail_rather_than_an_error(
    tus: TusClient,
) -> None:
    truncated = jpeg(10_000)[:200]
    item = await _uploaded(tus, truncated)

    async with tus.session.get(item["thumbnail_url"]) as response:
        assert response.status == 404


async def test_a_signed_url_needs_no_token_and_a_tampered_one_is_refused(
    auth_settings: Settings, bus: Bus, database: None, session: aiohttp.ClientSession
) -> None:
    server = await start_server(create_app(auth_settings, bus, manage_database=False))
    try:
        base = str(server.make_url("")).rstrip("/")
        await users.create_user("root", is_admin=True)
        token, _ = server.app[AUTH_KEY].verifier.issue("root", 3600)
        site = TusClient(session, base, TEST_SITE_TOKEN)
        data = jpeg(10_000)
        _, url, _ = await site.create(len(data), attached_to="robot", attached_id=ROBOT)
        assert (await site.patch(url, 0, data)).status == 204
        async with session.get(
            base + "/media", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            signed = (await response.json())[0]["url"]

        async with session.get(signed) as response:
            body = await response.read()
        async with session.get(signed.replace("signature=", "signature=0")) as tampered:
            pass
    finally:
        await server.close()

    assert body == data
    assert tampered.status == 401
