"""Resumable uploads over tus: they survive dropped links, and only acceptable files get in."""

from __future__ import annotations

import base64
import hashlib
import logging

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.auth import Permission, users
from fleetcore.bus import Bus
from fleetcore.media.store import LocalMediaStore, media_root
from fleetcore.settings import Settings
from fleetcore.store import models as db
from rest_api.access import AUTH_KEY
from rest_api.app import create_app
from tests.conftest import start_server
from tests.media.conftest import ROBOT
from tests.media.tus import TAKEN, TusClient, jpeg

pytestmark = pytest.mark.integration


async def test_an_upload_dropped_three_times_completes_and_matches_its_hash(
    tus: TusClient, settings: Settings
) -> None:
    data = jpeg(6 << 20)
    status, url, _ = await tus.create(
        len(data), attached_to="robot", attached_id=ROBOT, content_type="image/jpeg"
    )
    assert status == 201
    starts = [await tus.drop_midway(url, data, 3 * TAKEN // 2) for _ in range(3)]

    response = await tus.resume(url, data)

    assert response.status == 204
    assert starts[0] == 0
    assert starts[0] < starts[1] < starts[2] < len(data) - TAKEN
    media = await db.Media.get(attached_id=ROBOT)
    assert media.sha256 == hashlib.sha256(data).hexdigest()
    stored = LocalMediaStore(media_root(settings))
    assert b"".join([c async for c in stored.read(media.sha256, 0, media.size)]) == data


async def test_a_patch_at_the_wrong_offset_is_409_and_changes_nothing(tus: TusClient) -> None:
    data = jpeg(10_000)
    _, url, _ = await tus.create(len(data), attached_to="robot", attached_id=ROBOT)
    await tus.patch(url, 0, data[:100])

    response = await tus.patch(url, 50, data[50:])

    assert response.status == 409
    assert await tus.offset(url) == 100


async def test_bytes_that_are_no_accepted_type_are_415_and_the_upload_dropped(
    tus: TusClient,
) -> None:
    data = b"#!/bin/sh\necho not a photo\n" * 10
    _, url, _ = await tus.create(
        len(data), attached_to="robot", attached_id=ROBOT, content_type="image/png"
    )

    response = await tus.patch(url, 0, data)

    assert response.status == 415
    assert not await db.Media.exists()


async def test_bytes_that_contradict_the_declared_type_are_422(tus: TusClient) -> None:
    data = jpeg(10_000)
    _, url, _ = await tus.create(
        len(data), attached_to="robot", attached_id=ROBOT, content_type="image/png"
    )

    response = await tus.patch(url, 0, data)

    assert response.status == 422


async def test_a_declared_type_not_accepted_is_415_at_creation(tus: TusClient) -> None:
    status, _, body = await tus.create(
        10, attached_to="robot", attached_id=ROBOT, content_type="text/html"
    )

    assert (status, body["reason"]) == (415, "unsupported_type")


async def test_a_file_over_its_kinds_limit_is_413_at_creation(
    tus: TusClient, settings: Settings
) -> None:
    status, _, body = await tus.create(
        settings.media_image_max_bytes + 1,
        attached_to="robot",
        attached_id=ROBOT,
        content_type="image/jpeg",
    )

    assert (status, body["reason"]) == (413, "too_large")


async def test_a_body_that_fails_its_checksum_is_460_and_its_bytes_dropped(tus: TusClient) -> None:
    data = jpeg(10_000)
    _, url, _ = await tus.create(len(data), attached_to="robot", attached_id=ROBOT)
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()

    response = await tus.patch(url, 0, data, **{"Upload-Checksum": f"sha256 {wrong}"})

    assert response.status == 460
    assert await tus.offset(url) == 0


async def test_a_body_with_its_checksum_is_taken(tus: TusClient) -> None:
    data = jpeg(10_000)
    _, url, _ = await tus.create(len(data), attached_to="robot", attached_id=ROBOT)
    right = base64.b64encode(hashlib.sha256(data).digest()).decode()

    response = await tus.patch(url, 0, data, **{"Upload-Checksum": f"sha256 {right}"})

    assert response.status == 204


async def test_a_terminated_upload_is_gone(tus: TusClient, session: aiohttp.ClientSession) -> None:
    _, url, _ = await tus.create(100, attached_to="robot", attached_id=ROBOT)

    async with session.delete(url, headers={"Tus-Resumable": "1.0.0"}) as response:
        assert response.status == 204
    async with session.head(url, headers={"Tus-Resumable": "1.0.0"}) as response:
        assert response.status == 404


async def test_an_upload_to_an_unknown_alert_is_404(tus: TusClient) -> None:
    status, _, body = await tus.create(100, attached_to="alert", attached_id="no-such-alert")

    assert (status, body["reason"]) == (404, "not_found")


async def test_a_device_token_uploads_for_its_robot_and_is_refused_for_another(
    session: aiohttp.ClientSession, base: str
) -> None:
    async with session.post(
        base + "/admin/device_tokens", json={"fleet": "fleet_a", "robot": "r1"}
    ) as response:
        token = (await response.json())["token"]
    device = TusClient(session, base, token)

    own, _, _ = await device.create(100, attached_to="robot", attached_id="fleet_a/r1")
    other, _, body = await device.create(100, attached_to="robot", attached_id="fleet_a/r2")

    assert own == 201
    assert (other, body["reason"]) == (403, "forbidden")


async def test_a_revoked_device_token_is_refused(session: aiohttp.ClientSession, base: str) -> None:
    async with session.post(base + "/admin/device_tokens", json={"fleet": "fleet_a"}) as response:
        issued = await response.json()
    async with session.delete(base + f"/admin/device_tokens/{issued['id']}") as response:
        assert response.status == 200
    device = TusClient(session, base, issued["token"])

    status, _, _ = await device.create(100, attached_to="robot", attached_id="fleet_a/r1")

    assert status == 401


async def test_every_upload_is_in_the_audit_log(tus: TusClient) -> None:
    data = jpeg(10_000)
    _, url, _ = await tus.create(len(data), attached_to="robot", attached_id=ROBOT)
    await tus.patch(url, 0, data)

    actions = await db.AuditEntry.filter(target=f"robot:{ROBOT}").values_list("action", "status")

    assert sorted(actions) == [("create_media_upload", 201), ("upload_media", 201)]


async def test_media_attached_to_an_event_concerns_the_events_robot(tus: TusClient) -> None:
    await db.DerivedEvent.create(
        seq=7,
        kind="robot_stuck",
        severity="warning",
        fleet="fleet_a",
        robot="r9",
        unix_millis_time=1,
        data="{}",
    )
    data = jpeg(10_000)
    _, url, _ = await tus.create(len(data), attached_to="event", attached_id="7")

    await tus.patch(url, 0, data)

    media = await db.Media.get(attached_to="event")
    assert (media.attached_id, media.fleet, media.robot) == ("7", "fleet_a", "r9")


async def test_a_user_uploads_only_where_granted_media_upload(
    auth_settings: Settings, bus: Bus, database: None, session: aiohttp.ClientSession
) -> None:
    await users.create_group("site_a")
    await users.add_member("site_a", "fleet", "fleet_a")
    for role, permission in (
        ("uploader", Permission.media_upload),
        ("reader", Permission.robot_read),
    ):
        await users.create_role(role)
        await users.grant(role, permission.value, "site_a")
        await users.create_user(role)
        await users.add_user_role(role, role)
    server = await start_server(create_app(auth_settings, bus, manage_database=False))
    try:
        base = str(server.make_url("")).rstrip("/")
        statuses = {}
        for user in ("uploader", "reader"):
            token, _ = server.app[AUTH_KEY].verifier.issue(user, 3600)
            status, _, _ = await TusClient(session, base, token).create(
                100, attached_to="robot", attached_id=ROBOT
            )
            statuses[user] = status
    finally:
        await server.close()

    assert statuses == {"uploader": 201, "reader": 403}


async def test_a_dropped_upload_is_logged_as_lost_not_as_a_server_error(
    tus: TusClient, server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    data = jpeg(3 << 20)
    _, url, _ = await tus.create(len(data), attached_to="robot", attached_id=ROBOT)

    await tus.drop_midway(url, data, 3 * TAKEN // 2)
    await tus.resume(url, data)
    await server.close()  # waits for the dropped request's handler to end

    assert "connection lost" in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
