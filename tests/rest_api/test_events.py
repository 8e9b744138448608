"""GET /events over a real socket: each filter, the time range and keyset pagination."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from fleetcore.store import models as db
from tests.rest_api.conftest import Client


async def _event(
    seq: int, kind: str, fleet: str, robot: str | None, task_id: str | None, t: int
) -> None:
    body = {
        "kind": kind,
        "severity": "warning",
        "unix_millis_time": t,
        "fleet": fleet,
        "robot": robot,
        "task_id": task_id,
        "detail": {},
    }
    await db.DerivedEvent.create(
        seq=seq,
        kind=kind,
        severity="warning",
        fleet=fleet,
        robot=robot,
        task_id=task_id,
        unix_millis_time=t,
        data=orjson.dumps(body).decode(),
    )


@pytest.fixture
async def events(database: None) -> None:
    await _event(1, "robot_stale", "f", "r1", None, 1000)
    await _event(2, "robot_offline", "f", "r1", None, 2000)
    await _event(3, "task_stale", "f", "r1", "t1", 2000)
    await _event(4, "robot_offline", "g", "r9", None, 3000)
    await _event(5, "robot_online", "f", "r1", None, 4000)


async def _seqs(client: Client, **params: Any) -> list[int]:
    response = await client.get("/events", params=params)
    assert response.status == 200, await response.text()
    return [e["seq"] for e in await response.json()]


async def test_without_filters_the_newest_page_comes_newest_first(
    client: Client, events: None
) -> None:
    assert await _seqs(client) == [5, 4, 3, 2, 1]


async def test_an_event_carries_its_seq_and_published_body(client: Client, events: None) -> None:
    first = (await (await client.get("/events", params={"after": 2, "limit": 1})).json())[0]
    assert first == {
        "seq": 3,
        "kind": "task_stale",
        "severity": "warning",
        "unix_millis_time": 2000,
        "fleet": "f",
        "robot": "r1",
        "task_id": "t1",
        "detail": {},
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "robot_offline"}, [4, 2]),
        ({"kind": "robot_stale,robot_online"}, [5, 1]),
        ({"fleet": "g"}, [4]),
        ({"robot": "r1"}, [5, 3, 2, 1]),
        ({"task_id": "t1"}, [3]),
        ({"between": "2000,3000"}, [4, 3, 2]),
        ({"kind": "robot_offline", "fleet": "f"}, [2]),
    ],
    ids=["kind", "kinds", "fleet", "robot", "task", "time-range", "all-filters-hold"],
)
async def test_filters(
    client: Client, events: None, params: dict[str, str], expected: list[int]
) -> None:
    assert await _seqs(client, **params) == expected


async def test_after_pages_forward_oldest_first(client: Client, events: None) -> None:
    assert await _seqs(client, after=0, limit=2) == [1, 2]
    assert await _seqs(client, after=2, limit=2) == [3, 4]
    assert await _seqs(client, after=4, limit=2) == [5]


async def test_before_pages_backward_newest_first(client: Client, events: None) -> None:
    assert await _seqs(client, limit=2) == [5, 4]
    assert await _seqs(client, before=4, limit=2) == [3, 2]


async def test_a_page_is_stable_while_new_events_arrive(client: Client, events: None) -> None:
    await _event(6, "robot_stale", "f", "r2", None, 5000)
    assert await _seqs(client, before=4, limit=2) == [3, 2]


async def test_a_bad_cursor_is_a_422(client: Client, events: None) -> None:
    response = await client.get("/events", params={"after": "x"})
    assert response.status == 422
    assert (await response.json())["detail"][0]["loc"] == ["query", "after"]


async def _sample(robot: str, t: int, x: float) -> None:
    await db.RobotPositionSample.create(
        fleet="f",
        robot=robot,
        unix_millis_time=t,
        map="L1",
        x=x,
        y=0.0,
        yaw=0.0,
        status="working",
        battery=0.5,
    )


async def test_robot_history_lists_its_samples_in_the_period_oldest_first(
    client: Client, database: None
) -> None:
    for t, x in ((1000, 1.0), (2000, 2.0), (3000, 3.0)):
        await _sample("r1", t, x)
    await _sample("r2", 2000, 9.0)
    response = await client.get("/robots/f/r1/history", params={"between": "1500,3000"})
    assert response.status == 200
    assert [(s["unix_millis_time"], s["x"]) for s in await response.json()] == [
        (2000, 2.0),
        (3000, 3.0),
    ]


async def test_robot_history_of_an_unknown_robot_is_empty(client: Client, database: None) -> None:
    response = await client.get("/robots/f/nobody/history", params={"between": "0,1"})
    assert response.status == 200 and await response.json() == []


async def test_robot_history_defaults_to_the_last_hour(client: Client, database: None) -> None:
    now = time.time_ns() // 1_000_000
    await _sample("r1", now - 7_200_000, 1.0)
    await _sample("r1", now - 60_000, 2.0)
    response = await client.get("/robots/f/r1/history")
    assert [s["x"] for s in await response.json()] == [2.0]
