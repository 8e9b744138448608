"""A simulated robot that is stuck or fails a task uploads what it saw, over tus, as a robot would."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from PIL import Image

from fleetcore.aio import cancel_and_wait
from fleetcore.log import sim_logger
from fleetcore.settings import Settings
from fleetcore.store import models
from rest_api.media_access import create_device_token
from simulator import Simulation
from simulator.media import SNAPSHOT_SIZE, MediaUploadConfig, MediaUploader
from simulator.simulation import Incident
from tests.conftest import eventually, start_embedded
from tests.media.tus import jpeg
from tests.simulator.test_tasks import REQUESTS


def test_a_fault_is_an_incident_of_its_failed_task(sim: Simulation) -> None:
    task_id = sim.dispatch({"category": "patrol", "description": REQUESTS["patrol"]})["booking"][
        "id"
    ]
    sim.step(1.0)
    task = sim.tasks[task_id]

    sim.inject_fault(task.fleet, task.robot, "bumper pressed")

    [incident] = sim.drain_incidents()
    assert (incident.fleet, incident.robot, incident.task_id) == (task.fleet, task.robot, task_id)
    assert incident.what == "fault"


def test_a_stopped_robot_is_a_stuck_incident_once(sim: Simulation) -> None:
    fleet, robot = next((r.fleet, r.name) for r in sim.robots())

    sim.set_robot_stopped(fleet, robot, True)
    sim.set_robot_stopped(fleet, robot, True)

    assert [(i.robot, i.task_id, i.what) for i in sim.drain_incidents()] == [(robot, "", "stuck")]


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[TestServer]:
    """``fleethub up``'s app on a loopback port, without its simulator."""

    server = await start_embedded(settings.replace(derive_tick_ms=50))
    try:
        yield server
    finally:
        await server.close()


async def _content(base: str, media: models.Media) -> bytes:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/media/{media.id}/content") as response,
    ):
        assert response.status == 200
        return await response.read()


async def test_an_upload_dropped_midway_resumes_and_its_bytes_match(
    site: TestServer, sim: Simulation, caplog: pytest.LogCaptureFixture
) -> None:
    base = str(site.make_url("")).rstrip("/")
    robot = next(iter(sim.robots()))
    token, _ = await create_device_token(robot.fleet, robot.name, "test")
    uploader = MediaUploader(sim.site, MediaUploadConfig(base, {(robot.fleet, robot.name): token}))
    incident = Incident(robot.fleet, robot.name, "", 1, "stuck", robot.level, robot.x, robot.y)
    caplog.set_level(logging.INFO, sim_logger.name)
    data = jpeg(400_000)  # large enough for the server to take part of it before the drop
    try:
        url = await uploader.upload(incident, data, "image/jpeg", drop=True)
    finally:
        await uploader.aclose()

    media = await models.Media.get(id=url.rsplit("/", 1)[1])
    resumed = [
        r.args[1] for r in caplog.records if "resumes at" in r.msg and isinstance(r.args, tuple)
    ]
    assert resumed and all(isinstance(at, int) and 0 < at < len(data) for at in resumed)
    assert (media.attached_to, media.attached_id) == ("robot", f"{robot.fleet}/{robot.name}")
    assert media.uploaded_by == f"device:{robot.fleet}/{robot.name}"
    assert media.sha256 == hashlib.sha256(data).hexdigest()
    assert await _content(base, media) == data


async def _stored_task(task_id: str) -> models.TaskState | None:
    return await models.TaskState.get_or_none(id=task_id)


async def _media_of(task_id: str) -> models.Media | None:
    return await models.Media.filter(attached_to="task", attached_id=task_id, kind="image").first()


async def test_a_robot_failing_its_task_uploads_a_snapshot_attached_to_the_task(
    site: TestServer, settings: Settings
) -> None:
    from fleethub.embedded import simulator_service

    port = site.port
    assert port is not None
    service = await simulator_service(
        settings.replace(api_port=port, hub_port=port, sim_media=True, sim_robots=4)
    )
    running = asyncio.create_task(service.run())
    try:
        sim = service.simulation
        state = sim.dispatch({"category": "patrol", "description": REQUESTS["patrol"]})
        task_id = state["booking"]["id"]
        await eventually(lambda: _stored_task(task_id), timeout=20)
        task = sim.tasks[task_id]
        sim.inject_fault(task.fleet, task.robot, "bumper pressed")
        media = await eventually(lambda: _media_of(task_id), timeout=20)
        assert media is not None
        content = await _content(str(site.make_url("")).rstrip("/"), media)
    finally:
        await cancel_and_wait(running)

    assert media.uploaded_by == f"device:{task.fleet}/{task.robot}"
    assert (media.fleet, media.robot, media.kind) == (task.fleet, task.robot, "image")
    assert hashlib.sha256(content).hexdigest() == media.sha256
    assert Image.open(io.BytesIO(content)).size == SNAPSHOT_SIZE
