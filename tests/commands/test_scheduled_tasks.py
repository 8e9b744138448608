"""Scheduled tasks: rmf-web's /scheduled_tasks, fired by the hub once per occurrence."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import aiohttp
import orjson
from prometheus_client import REGISTRY

from fleetcore.settings import Settings
from fleetcore.store import models
from hub.scheduler import _due
from simulator import SimConfig, Simulation, SimulatorService
from tests.commands.conftest import dispatch_body
from tests.conftest import eventually, start_embedded


def _iso(unix_ms: int) -> str:
    return datetime.fromtimestamp(unix_ms / 1000, UTC).isoformat()


def _body(**schedule: Any) -> dict[str, Any]:
    return {"task_request": dispatch_body()["request"], "schedules": [schedule]}


async def _create(http: aiohttp.ClientSession, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post("/scheduled_tasks", json=body) as answer:
        return answer.status, await answer.json()


async def test_a_scheduled_task_is_created_and_read_in_rmf_webs_shape(
    http: aiohttp.ClientSession,
) -> None:
    status, created = await _create(http, _body(period="day", at="10:30"))

    assert status == 201
    assert created["task_request"] == dispatch_body()["request"]
    assert created["schedules"] == [{"every": None, "period": "day", "at": "10:30"}]
    assert (created["last_ran"], created["except_dates"]) == (None, [])
    assert (created["start_from"], created["until"]) == (None, None)
    assert await (await http.get(f"/scheduled_tasks/{created['id']}")).json() == created
    assert await (await http.get("/scheduled_tasks")).json() == [created]


async def test_a_scheduled_task_that_would_never_run_is_a_422(http: aiohttp.ClientSession) -> None:
    status, answer = await _create(http, _body(period="day", until="2020-01-01T00:00:00Z"))

    assert status == 422
    assert answer["detail"][0]["loc"] == ["body", "schedules"]
    assert "never going to run" in answer["detail"][0]["msg"]


async def test_an_at_that_does_not_fit_the_period_is_a_422(http: aiohttp.ClientSession) -> None:
    status, answer = await _create(http, _body(period="day", at=":17"))

    assert status == 422
    assert answer["detail"][0]["loc"][:3] == ["body", "schedules", 0]


async def test_clearing_a_day_adds_it_to_the_except_dates(http: aiohttp.ClientSession) -> None:
    _, created = await _create(http, _body(period="day", at="10:30"))

    async with http.put(
        f"/scheduled_tasks/{created['id']}/clear?event_date=2030-01-02T10:30:00"
    ) as answer:
        assert answer.status == 200
    task = await (await http.get(f"/scheduled_tasks/{created['id']}")).json()
    assert task["except_dates"] == ["2030-01-02"]


async def test_the_window_and_except_dates_are_the_scheduled_tasks_in_rmf_webs_current_shape(
    http: aiohttp.ClientSession,
) -> None:
    body = {
        **_body(period="monday", at="08:00"),
        "start_from": "2030-01-01T00:00:00Z",
        "until": "2030-12-31T00:00:00+00:00",
        "except_dates": ["2030-01-07T08:00:00Z"],
    }

    status, created = await _create(http, body)

    assert status == 201
    assert (created["start_from"], created["until"]) == (
        "2030-01-01T00:00:00+00:00",
        "2030-12-31T00:00:00+00:00",
    )
    assert created["except_dates"] == ["2030-01-07"]
    assert created["schedules"] == [{"every": None, "period": "monday", "at": "08:00"}]


async def test_a_window_that_ended_is_a_422(http: aiohttp.ClientSession) -> None:
    body = {**_body(period="day", at="10:30"), "until": "2020-01-01T00:00:00Z"}

    status, answer = await _create(http, body)

    assert status == 422
    assert "never going to run" in answer["detail"][0]["msg"]


async def test_an_except_date_is_added_with_rmf_webs_post(http: aiohttp.ClientSession) -> None:
    _, created = await _create(http, _body(period="day", at="10:30"))

    async with http.post(
        f"/scheduled_tasks/{created['id']}/except_date",
        json={"except_date": "2030-01-02T10:30:00Z"},
    ) as answer:
        assert (answer.status, await answer.json()) == (201, None)
    task = await (await http.get(f"/scheduled_tasks/{created['id']}")).json()
    assert task["except_dates"] == ["2030-01-02"]


async def test_updating_one_day_splits_it_off_into_a_new_scheduled_task(
    http: aiohttp.ClientSession,
) -> None:
    _, series = await _create(http, _body(period="day", at="10:30"))

    async with http.post(
        f"/scheduled_tasks/{series['id']}/update?except_date=2030-01-02T00:00:00",
        json=_body(
            period="day",
            at="12:00",
            start_from="2030-01-02T00:00:00Z",
            until="2030-01-02T23:59:59Z",
        ),
    ) as answer:
        assert answer.status == 201
        single = await answer.json()

    assert single["id"] != series["id"]
    assert single["schedules"][0]["at"] == "12:00"
    updated = await (await http.get(f"/scheduled_tasks/{series['id']}")).json()
    assert updated["except_dates"] == ["2030-01-02"]


async def test_updating_the_series_replaces_its_schedules_and_except_dates(
    http: aiohttp.ClientSession,
) -> None:
    _, series = await _create(http, _body(period="day", at="10:30"))
    await http.put(f"/scheduled_tasks/{series['id']}/clear?event_date=2030-01-02T10:30:00")

    async with http.post(
        f"/scheduled_tasks/{series['id']}/update",
        json={**_body(period="hour", at=":15"), "until": "2031-01-01T00:00:00Z"},
    ) as answer:
        assert answer.status == 200
        updated = await answer.json()

    assert (updated["id"], updated["except_dates"]) == (series["id"], [])
    assert updated["until"] == "2031-01-01T00:00:00+00:00"
    assert updated["schedules"][0]["period"] == "hour"


async def test_a_deleted_scheduled_task_is_gone(http: aiohttp.ClientSession) -> None:
    _, created = await _create(http, _body(period="day", at="10:30"))

    assert (await http.delete(f"/scheduled_tasks/{created['id']}")).status == 200
    assert (await http.get(f"/scheduled_tasks/{created['id']}")).status == 404
    assert (await http.delete(f"/scheduled_tasks/{created['id']}")).status == 404


def test_an_occurrence_on_an_except_date_is_not_due() -> None:
    created = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1000)
    task = models.ScheduledTask(
        id=1,
        task_request="{}",
        schedules=orjson.dumps([{"period": "day", "at": "10:00"}]).decode(),
        except_dates='["2030-01-02"]',
        created_by="u",
        created_ms=created,
    )

    due = _due(task, created, created + 3 * 86_400_000)

    assert [_iso(t)[:10] for t in due] == ["2030-01-01", "2030-01-03"]


def test_only_occurrences_within_the_tasks_window_are_due() -> None:
    created = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1000)
    task = models.ScheduledTask(
        id=1,
        task_request="{}",
        schedules=orjson.dumps([{"period": "day", "at": "10:00"}]).decode(),
        except_dates="[]",
        created_by="u",
        created_ms=created,
        start_from_ms=created + 86_400_000,
        until_ms=created + 3 * 86_400_000,
    )

    due = _due(task, created, created + 5 * 86_400_000)

    assert [_iso(t)[:10] for t in due] == ["2030-01-02", "2030-01-03"]


@contextlib.asynccontextmanager
async def system(
    settings: Settings,
) -> AsyncIterator[tuple[aiohttp.ClientSession, SimulatorService]]:
    """The embedded system with a one-robot simulated site, on the test's database."""
    server = await start_embedded(settings)
    base = str(server.make_url("")).rstrip("/")
    site = SimulatorService(
        Settings(hub_url=base, sim_rate_hz=20.0, ingest_token=settings.ingest_token),
        simulation=Simulation(SimConfig(robots=1, fleets=1)),
        backoff_initial_s=0.05,
    )
    running = asyncio.create_task(site.run())
    try:
        await eventually(lambda: site.client.connected)
        async with aiohttp.ClientSession(base) as http:
            yield http, site
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await server.close()


async def test_the_hub_dispatches_an_occurrence_once_even_across_a_restart(
    settings: Settings,
) -> None:
    async with system(settings) as (http, site):
        start = time.time_ns() // 1_000_000 + 1500
        _, created = await _create(http, _body(period="day", start_from=_iso(start)))
        await eventually(lambda: len(site.commands.requests) == 1, timeout=5)

        async def last_ran() -> object:
            return (await (await http.get(f"/scheduled_tasks/{created['id']}")).json())["last_ran"]

        await eventually(last_ran)  # recorded once the site has answered the dispatch
        assert len(site.simulation.tasks) == 1

    async with system(settings) as (_, site):
        looked = _scheduler_steps()
        await eventually(lambda: _scheduler_steps() >= looked + 2)  # the new hub's looks twice
        assert site.commands.requests == {}
        keys = cast(
            "list[str]",
            await models.CommandRecord.filter(key__startswith="fleethub-schedule/").values_list(
                "key", flat=True
            ),
        )
    assert keys == [f"fleethub-schedule/{created['id']}/{-(-start // 1000) * 1000}"]


def _scheduler_steps() -> float:
    """Rounds the task scheduler of this process has finished (its leader role's counter)."""
    return (
        REGISTRY.get_sample_value("fleethub_leader_role_steps_total", {"role": "task scheduler"})
        or 0.0
    )
