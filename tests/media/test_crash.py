"""An API process SIGKILLed mid-upload: nothing half-made is visible, and the upload resumes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from fleetcore.settings import Settings
from tests.helpers import TEST_SITE_TOKEN
from tests.media.conftest import ROBOT
from tests.media.tus import TAKEN, TusClient, jpeg
from tests.processes import PrivateRedis, Process, fleethub, wait_http

pytestmark = pytest.mark.integration


def _env(settings: Settings, tmp_path: Path, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "FLEETHUB_DATA_DIR": str(tmp_path / "data"),
        "FLEETHUB_DATABASE_URL": settings.resolved_database_url,
        "FLEETHUB_REDIS_URL": redis_url,
        "FLEETHUB_REDIS_PREFIX": settings.redis_prefix,
        "FLEETHUB_API_PORT": "0",
        "FLEETHUB_AUTH_MODE": "off",
        "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
    }


async def _api(env: dict[str, str], tmp_path: Path, name: str) -> tuple[Process, str]:
    api = await fleethub(name, "api", env, tmp_path).start()
    url = await api.url("api")
    await wait_http(url + "/healthz")
    return api, url


async def test_a_sigkill_mid_upload_leaves_nothing_visible_and_the_upload_resumes(
    settings: Settings, tmp_path: Path
) -> None:
    redis = None if settings.redis_url else await PrivateRedis(tmp_path).start()
    try:
        await _crash_and_resume(settings, tmp_path, redis.url if redis else settings.redis_url)
    finally:
        if redis is not None:
            await redis.stop()


async def _crash_and_resume(settings: Settings, tmp_path: Path, redis_url: str) -> None:
    env = _env(settings, tmp_path, redis_url)
    migrate = await fleethub("migrate", "migrate", env, tmp_path).start()
    assert migrate.proc is not None and await migrate.proc.wait() == 0, migrate.output()
    data = jpeg(4 << 20)
    api, base = await _api(env, tmp_path, "api")
    try:
        async with aiohttp.ClientSession() as session:
            tus = TusClient(session, base)
            _, url, _ = await tus.create(len(data), attached_to="robot", attached_id=ROBOT)
            path = url.removeprefix(base)
            host, _, port = base.removeprefix("http://").partition(":")
            _, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                (
                    f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nTus-Resumable: 1.0.0\r\n"
                    "Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                ).encode()
                + data[: 2 * TAKEN]
            )
            while await tus.offset(url) < TAKEN:
                await asyncio.sleep(0.01)
            api.signal(signal.SIGKILL)
            assert api.proc is not None
            await api.proc.wait()
            writer.close()

        api, base = await _api(env, tmp_path, "api_again")
        async with aiohttp.ClientSession() as session:
            tus = TusClient(session, base)
            async with session.get(base + "/media") as response:
                listed_after_crash = await response.json()
            kept = await tus.offset(base + path)
            response = await tus.resume(base + path, data)
            async with session.get(base + "/media") as listed:
                items = await listed.json()
    finally:
        await api.stop()

    assert listed_after_crash == []
    assert TAKEN <= kept < len(data)
    assert response.status == 204
    assert [item["sha256"] for item in items] == [hashlib.sha256(data).hexdigest()]
