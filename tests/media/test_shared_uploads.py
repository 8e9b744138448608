"""Several API processes sharing ``media_upload_dir``: an upload begun on one resumes on another."""

from __future__ import annotations

import hashlib
from pathlib import Path

import aiohttp
import pytest

from fleetcore.settings import Settings
from tests.media.conftest import ROBOT
from tests.media.test_crash import _api, _env
from tests.media.tus import TAKEN, TusClient, jpeg
from tests.processes import PrivateRedis, fleethub

pytestmark = pytest.mark.integration


async def test_an_upload_begun_on_one_api_process_resumes_on_another_sharing_the_directory(
    settings: Settings, tmp_path: Path
) -> None:
    redis = None if settings.redis_url else await PrivateRedis(tmp_path).start()
    shared = {
        "FLEETHUB_MEDIA_UPLOAD_DIR": str(tmp_path / "shared" / "uploads"),
        "FLEETHUB_MEDIA_STORE_URL": (tmp_path / "shared" / "store").as_uri(),
    }
    env = _env(settings, tmp_path, redis.url if redis else settings.redis_url) | shared
    data = jpeg(3 * TAKEN)
    try:
        migrate = await fleethub("migrate", "migrate", env, tmp_path).start()
        assert migrate.proc is not None and await migrate.proc.wait() == 0, migrate.output()
        # Each process has its own data directory: only the upload directory and store are shared.
        first, first_url = await _api(
            env | {"FLEETHUB_DATA_DIR": str(tmp_path / "a")}, tmp_path, "a"
        )
        second, second_url = await _api(
            env | {"FLEETHUB_DATA_DIR": str(tmp_path / "b")}, tmp_path, "b"
        )
        try:
            async with aiohttp.ClientSession() as session:
                on_first = TusClient(session, first_url)
                _, url, _ = await on_first.create(len(data), attached_to="robot", attached_id=ROBOT)
                await on_first.drop_midway(url, data, 2 * TAKEN)
                on_second = TusClient(session, second_url)
                moved = url.replace(first_url, second_url)
                kept = await on_second.offset(moved)
                response = await on_second.resume(moved, data)
                async with session.get(second_url + "/media") as listed:
                    items = await listed.json()
                async with session.get(items[0]["url"]) as download:
                    body = await download.read()
        finally:
            await first.stop()
            await second.stop()
    finally:
        if redis is not None:
            await redis.stop()

    assert TAKEN <= kept < len(data)
    assert response.status == 204
    assert items[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert body == data
