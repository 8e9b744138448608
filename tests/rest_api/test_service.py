"""The clock, health, metrics, and JSON answers from the router itself."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from fleetcore.bus.memory import InMemoryBus
from fleetcore.settings import Settings
from rest_api.app import create_app
from rest_api.query import now_ms
from tests.rest_api.conftest import Client, FakeHub


async def test_time_is_unix_millis(client: Client) -> None:
    before = now_ms()
    response = await client.get("/time")
    after = now_ms()

    assert before <= await response.json() <= after


async def test_healthz_says_alive(client: Client) -> None:
    response = await client.get("/healthz")

    assert await response.json() == {"status": "alive"}


async def test_readyz_is_ready_with_database_and_bus(client: Client) -> None:
    response = await client.get("/readyz")

    assert response.status == 200
    assert (await response.json())["status"] == "ready"


async def test_metrics_expose_request_and_ingest_counters(client: Client, hub: FakeHub) -> None:
    await client.get("/fleets/ghost/state")

    text = await (await client.get("/metrics")).text()

    assert 'fleethub_api_requests_total{operation="get_fleet_state",status="404"}' in text
    assert "fleethub_ingest_rejected_total" in text
    assert "fleethub_publications_total" in text


async def test_unknown_path_and_wrong_method_answer_json(client: Client) -> None:
    missing = await client.get("/no/such/path")
    wrong = await client.post("/fleets")

    assert missing.status == 404
    assert "/no/such/path" in (await missing.json())["detail"]
    assert wrong.status == 405
    assert wrong.headers["Allow"] == "GET,HEAD"
    assert "POST" in (await wrong.json())["detail"]


async def test_standalone_app_opens_and_closes_its_sqlite_database(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, auth_mode="off"), InMemoryBus())
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        response = await client.get("/tasks")
        body = await response.json()
        ready = await client.get("/readyz")

    assert body == []
    assert ready.status == 200
    assert (tmp_path / "fleethub.sqlite3").exists()
