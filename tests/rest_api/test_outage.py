"""A REST call while Redis is down is a 503 that says so, logged once per outage without a traceback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fleetcore.bus import bus_from_settings
from fleetcore.settings import Settings
from rest_api.app import create_app
from tests.processes import PrivateRedis
from tests.rest_api.conftest import AiohttpClient, Client

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = await PrivateRedis(tmp_path).start()
    yield server
    await server.stop()


@pytest.fixture
async def on_redis(
    aiohttp_client: AiohttpClient, settings: Settings, redis: PrivateRedis, database: None
) -> Client:
    bus = bus_from_settings(settings.replace(redis_url=redis.url))
    return await aiohttp_client(create_app(settings, bus, manage_database=False))


async def test_reads_during_a_redis_outage_are_503_and_the_outage_is_logged_once(
    on_redis: Client, redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await on_redis.get("/doors/main/state")).status == 404
    await redis.kill()
    caplog.set_level(logging.WARNING, logger="fleethub.api")

    answers = [await on_redis.get("/doors/main/state") for _ in range(3)]

    assert [answer.status for answer in answers] == [503] * 3
    body = await answers[0].json()
    assert "unreachable" in body["detail"] and answers[0].headers["Retry-After"]
    logged = [r for r in caplog.records if r.name == "fleethub.api"]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING
    assert logged[0].exc_info is None

    await redis.start()
    assert (await on_redis.get("/doors/main/state")).status == 404
    assert "works again" in caplog.records[-1].getMessage()


async def test_graphql_during_a_redis_outage_answers_unavailable_logged_once(
    on_redis: Client, redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    query = {"query": "{ position { seq } }"}
    assert "errors" not in await (await on_redis.post("/graphql", json=query)).json()
    await redis.kill()
    caplog.set_level(logging.WARNING)

    answers = [await (await on_redis.post("/graphql", json=query)).json() for _ in range(3)]

    assert {answer["errors"][0]["extensions"]["code"] for answer in answers} == {"UNAVAILABLE"}
    assert "unreachable" in answers[0]["errors"][0]["message"]
    logged = [r for r in caplog.records if r.name == "fleethub.api"]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING
    assert logged[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    await redis.start()
    assert "errors" not in await (await on_redis.post("/graphql", json=query)).json()
    assert "works again" in caplog.records[-1].getMessage()
