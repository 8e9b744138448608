"""The S3 media store against a real S3-compatible server: moto's server mode, on loopback;
alone, and under the API (upload over tus, Range download)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiobotocore.session import get_session
from moto.server import ThreadedMotoServer

from fleetcore.bus import Bus
from fleetcore.media.store_s3 import PART_BYTES, S3MediaStore
from fleetcore.settings import Settings
from rest_api.app import create_app
from tests.conftest import start_server
from tests.media.conftest import ROBOT
from tests.media.tus import TusClient, jpeg

pytestmark = pytest.mark.integration

BUCKET = "fleethub-media"


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
async def store(endpoint: str) -> AsyncIterator[S3MediaStore]:
    async with get_session().create_client("s3", endpoint_url=endpoint) as s3:
        await s3.create_bucket(Bucket=BUCKET)
    store = S3MediaStore(BUCKET, "media", endpoint)
    try:
        yield store
    finally:
        await store.aclose()


def _staged(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "upload.part"
    path.write_bytes(data)
    return path


async def test_a_file_past_one_part_is_stored_in_parts_and_read_back_by_range(
    store: S3MediaStore, tmp_path: Path
) -> None:
    data = hashlib.sha256(b"seed").digest() * ((PART_BYTES + 100_000) // 32)
    key = hashlib.sha256(data).hexdigest()

    await store.put(key, _staged(tmp_path, data), "video/mp4")
    part = b"".join([c async for c in store.read(key, PART_BYTES - 10, 20)])
    whole = b"".join([c async for c in store.read(key, 0, len(data))])

    assert part == data[PART_BYTES - 10 : PART_BYTES + 10]
    assert whole == data
    assert not (tmp_path / "upload.part").exists()


async def test_a_key_already_stored_is_not_written_again(
    store: S3MediaStore, tmp_path: Path
) -> None:
    await store.put("k", _staged(tmp_path, b"first"), "image/jpeg")

    await store.put("k", _staged(tmp_path, b"second"), "image/jpeg")

    assert b"".join([c async for c in store.read("k", 0, 5)]) == b"first"


async def test_a_deleted_key_is_gone(store: S3MediaStore, tmp_path: Path) -> None:
    await store.put("k", _staged(tmp_path, b"bytes"), "image/jpeg")

    await store.delete("k")

    assert not await store.exists("k")


async def test_an_upload_through_the_api_lands_in_s3_and_is_read_back_by_range(
    store: S3MediaStore, endpoint: str, settings: Settings, bus: Bus, database: None
) -> None:
    on_s3 = settings.replace(media_store_url=f"s3://{BUCKET}/media", media_s3_endpoint_url=endpoint)
    server = await start_server(create_app(on_s3, bus, manage_database=False))
    data = jpeg(50_000)
    try:
        async with aiohttp.ClientSession() as session:
            tus = TusClient(session, str(server.make_url("")).rstrip("/"))
            _, url, _ = await tus.create(len(data), attached_to="robot", attached_id=ROBOT)
            assert (await tus.patch(url, 0, data)).status == 204
            async with session.get(tus.base + "/media") as response:
                item = (await response.json())[0]
            async with session.get(item["url"], headers={"Range": "bytes=100-199"}) as response:
                part = await response.read()
    finally:
        await server.close()

    assert part == data[100:200]
    assert await store.exists(hashlib.sha256(data).hexdigest())
