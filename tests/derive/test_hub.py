"""The derive stage inside the embedded hub: over real sockets, stored, published, restored."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.settings import Settings
from fleetcore.store import models
from tests.conftest import eventually, start_embedded
from tests.helpers import IngestClient, Subscriber, fleet

T = TypeVar("T")


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """Thresholds short enough for a test: stale at 0.3 s, offline at 0.6 s."""
    return settings.replace(
        derive_stale_s=0.3,
        derive_offline_s=0.6,
        derive_restart_grace_s=0.0,
        derive_tick_ms=50,
    )


async def _embedded(settings: Settings) -> TestServer:

    return await start_embedded(settings)


async def _db(query: Awaitable[T]) -> T:
    """A tortoise query as a coroutine, so ``eventually`` awaits it."""
    return await query


def _base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def test_a_silent_robot_goes_stale_then_offline_with_an_alert_on_the_rooms(
    fast: Settings,
) -> None:
    server = await _embedded(fast)
    try:
        watcher = await Subscriber(envelopes=True).connect(_base(server))
        await watcher.subscribe("/events")
        await watcher.subscribe("/alerts/requests")
        async with IngestClient(_base(server)) as ingest:
            await ingest.send("fleet_state_update", fleet("f", {"r1": (0.0, 0.0)}))
            await eventually(lambda: len(watcher.of("/events")) >= 2)
        kinds = [e["data"]["kind"] for e in watcher.of("/events")]
        assert kinds[:2] == ["robot_stale", "robot_offline"]
        await eventually(lambda: watcher.of("/alerts/requests"))
        alert = watcher.of("/alerts/requests")[0]
        assert alert["data"]["tier"] == "error" and alert["data"]["title"] == "Robot r1 is offline"
        stored = await models.AlertRequest.get(id=alert["data"]["id"])
        assert stored.seq == alert["seq"]
        await watcher.close()
    finally:
        await server.close()


async def test_derived_events_are_readable_over_rest_with_the_seq_they_were_published_with(
    fast: Settings,
) -> None:
    server = await _embedded(fast)
    try:
        async with IngestClient(_base(server)) as ingest:
            await ingest.send("fleet_state_update", fleet("f", {"r1": (0.0, 0.0)}))
        async with aiohttp.ClientSession() as session:

            async def offline() -> list[dict[str, object]]:
                async with session.get(_base(server) + "/events?kind=robot_offline") as resp:
                    return await resp.json()  # type: ignore[no-any-return]

            events = await eventually(offline)
        row = await models.DerivedEvent.get(kind="robot_offline")
        assert events[0]["seq"] == row.seq and events[0]["robot"] == "r1"
    finally:
        await server.close()


async def test_an_alert_posted_over_rest_is_published_by_the_hub(fast: Settings) -> None:
    server = await _embedded(fast)
    try:
        watcher = await Subscriber().connect(_base(server))
        await watcher.subscribe("/alerts/requests")
        await watcher.subscribe("/alerts/responses")
        body = {
            "id": "op1",
            "unix_millis_alert_time": 1,
            "title": "t",
            "subtitle": "s",
            "message": "m",
            "display": True,
            "tier": "info",
            "responses_available": ["ok"],
            "alert_parameters": [],
            "task_id": None,
        }
        async with aiohttp.ClientSession() as session:
            async with session.post(_base(server) + "/alerts/request", json=body) as resp:
                assert resp.status == 201
            await eventually(lambda: watcher.of("/alerts/requests"))
            async with session.post(
                _base(server) + "/alerts/request/op1/respond", params={"response": "ok"}
            ) as resp:
                assert resp.status == 201
            await eventually(lambda: watcher.of("/alerts/responses"))
        assert watcher.of("/alerts/requests") == [body]
        assert watcher.of("/alerts/responses")[0]["response"] == "ok"
        assert (await models.AlertResponse.get(id="op1")).seq is not None
        await watcher.close()
    finally:
        await server.close()


async def test_a_restart_neither_repeats_offline_nor_reopens_its_alert(fast: Settings) -> None:
    server = await _embedded(fast)
    async with IngestClient(_base(server)) as ingest:
        await ingest.send("fleet_state_update", fleet("f", {"r1": (0.0, 0.0)}))
    await eventually(lambda: _db(models.AlertRequest.exists()))
    await server.close()

    server = await _embedded(fast)
    try:
        await eventually(lambda: _db(models.HubMeta.filter(key="epoch", value=2).exists()))
        async with IngestClient(_base(server)) as ingest:
            await ingest.send("fleet_state_update", fleet("g", {"r2": (0.0, 0.0)}))
            await eventually(
                lambda: _db(models.DerivedEvent.filter(robot="r2", kind="robot_offline").exists())
            )
        assert await models.DerivedEvent.filter(robot="r1", kind="robot_offline").count() == 1
        assert await models.AlertRequest.filter(condition="robot_offline/f/r1").count() == 1
    finally:
        await server.close()


async def test_a_robot_back_after_a_restart_closes_the_alert_opened_before_it(
    fast: Settings,
) -> None:
    server = await _embedded(fast)
    async with IngestClient(_base(server)) as ingest:
        await ingest.send("fleet_state_update", fleet("f", {"r1": (0.0, 0.0)}))

    async def first_alert() -> models.AlertRequest | None:
        return await models.AlertRequest.first()

    alert = await eventually(first_alert)
    assert alert is not None
    await server.close()

    server = await _embedded(fast)
    try:
        async with IngestClient(_base(server)) as ingest:
            await ingest.send("fleet_state_update", fleet("f", {"r1": (0.0, 0.0)}))
            await eventually(lambda: _db(models.AlertResolution.filter(id=alert.id).exists()))
        assert await models.DerivedEvent.filter(robot="r1", kind="robot_online").count() == 1
    finally:
        await server.close()
