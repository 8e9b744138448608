"""A video's thumbnail is its first frame (its poster), made with PyAV; none rather than an error."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from rest_api.routes import media as media_routes
from simulator.media import clip
from tests.media.conftest import ROBOT
from tests.media.tus import TusClient

pytestmark = pytest.mark.integration

RED, BLUE = (220, 20, 20), (20, 20, 220)


def _video() -> bytes:
    """A real MP4 of 12 frames, 320x240: red first, then blue."""
    frames = [Image.new("RGB", (320, 240), RED if i < 3 else BLUE) for i in range(12)]
    return clip(frames)


async def _uploaded(tus: TusClient, data: bytes) -> dict[str, Any]:
    status, url, body = await tus.create(len(data), attached_to="robot", attached_id=ROBOT)
    assert status == 201, body
    assert (await tus.patch(url, 0, data)).status == 204
    async with tus.session.get(tus.base + "/media", params={"attached_id": ROBOT}) as response:
        items: list[dict[str, Any]] = await response.json()
    return items[0]


async def test_a_video_has_its_first_frame_as_a_small_jpeg_thumbnail(tus: TusClient) -> None:
    item = await _uploaded(tus, _video())

    async with tus.session.get(item["thumbnail_url"]) as response:
        poster = Image.open(io.BytesIO(await response.read()))

    assert (response.status, item["kind"], poster.format) == (200, "video", "JPEG")
    assert max(poster.size) <= 320
    red, _, blue = poster.convert("RGB").getpixel((poster.width // 2, poster.height // 2))  # type: ignore[misc]
    assert red > 150 and blue < 100  # the first frame's, not a later one's


async def test_a_video_that_cannot_be_decoded_has_no_thumbnail_rather_than_an_error(
    tus: TusClient,
) -> None:
    item = await _uploaded(tus, _video()[:200])  # an MP4's head, no frames

    async with tus.session.get(item["thumbnail_url"]) as response:
        assert response.status == 404


async def test_without_pyav_a_video_has_no_thumbnail_rather_than_an_error(
    tus: TusClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media_routes, "POSTERS", False)  # as where the av wheel is not installed
    item = await _uploaded(tus, _video())

    async with tus.session.get(tus.base + f"/media/{item['id']}/thumbnail") as response:
        assert response.status == 404
    assert item["thumbnail_url"] is None
