"""The writer drops a change the database refuses, alone, and commits the rest of its batch.

A burst larger than a batch is committed batch by batch and published in
order, once. An outage is waited out without losing anything; a database that refuses
every write stops the writer with WriterFailed, for the process to be restarted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import REGISTRY
from tortoise.connection import get_connection

from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.envelope import Publication, StreamPosition
from fleetcore.errors import WriterFailed
from fleetcore.settings import DEFAULTS, Settings
from fleetcore.store import models
from fleetcore.store.db import close_database, open_database
from hub.changes import Change, PendingPublication, Row
from hub.writer import Writer
from tests.conftest import TEST_DATABASE_URL

EPOCH = 3


@dataclass
class Running:
    writer: Writer
    task: asyncio.Task[None]
    published: list[Publication]


@pytest.fixture
def max_rows() -> int:
    """The writer's batch size; a test parametrizes it to see its batches."""
    return DEFAULTS.batch_max_rows


@pytest.fixture
async def running(settings: Settings, max_rows: int) -> AsyncIterator[Running]:
    await open_database(settings.resolved_database_url, apply_migrations=True)
    await models.HubMeta.create(key="epoch", value=EPOCH)
    await models.HubMeta.create(key="seq", value=0)
    bus = InMemoryBus()
    published: list[Publication] = []

    async def hear(batch: Sequence[Publication]) -> None:
        published.extend(batch)

    bus.add_listener(hear)
    writer = Writer(bus, StreamPosition(0, EPOCH), max_rows=max_rows)
    task = asyncio.create_task(writer.run())
    try:
        yield Running(writer, task, published)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await close_database()


def door(name: str, *rows: Row) -> Change:
    room = "/doors/" + name + "/state"
    return Change(publications=[PendingPublication(room, b'{"door_name": "d"}')], rows=list(rows))


def sample(robot: str, **values: Any) -> Row:
    row = {
        "fleet": "f1",
        "robot": robot,
        "unix_millis_time": 1_700_000_000_123,
        "map": "L1",
        "x": 1.5,
        "y": -2.25,
        "yaw": 3.0,
        "status": "working",
        "battery": 0.5,
    }
    return Row("RobotPositionSample", {**row, **values})


def dropped(error: str) -> float:
    return (
        REGISTRY.get_sample_value("fleethub_store_dropped_changes_total", {"error": error}) or 0.0
    )


async def submit_together(writer: Writer, *changes: Change) -> None:
    """Queue the changes without yielding, so the writer takes them as one batch."""
    for change in changes:
        await writer.submit(change)
    await asyncio.wait_for(writer.drained(), 10)


@pytest.mark.parametrize("max_rows", [10])
async def test_a_burst_larger_than_a_batch_is_published_batch_by_batch_in_order_once(
    running: Running,
) -> None:
    batches = REGISTRY.get_sample_value("fleethub_store_batches_total") or 0.0
    names = [f"d{i}" for i in range(25)]
    # A publication and a row each: five changes fill a batch of ten rows.
    await submit_together(running.writer, *(door(name, sample(name)) for name in names))
    assert REGISTRY.get_sample_value("fleethub_store_batches_total") == batches + 5
    rooms = [f"/doors/{name}/state" for name in names]
    assert [(pub.seq, pub.room) for pub in running.published] == list(enumerate(rooms, start=1))
    stored = [row.robot for row in await models.RobotPositionSample.all().order_by("id")]
    assert stored == names
    assert (await models.HubMeta.get(key="seq")).value == 25


async def test_each_committed_batch_is_timed_once(running: Running) -> None:
    timed = REGISTRY.get_sample_value("fleethub_store_commit_seconds_count") or 0.0
    batches = REGISTRY.get_sample_value("fleethub_store_batches_total") or 0.0
    await submit_together(running.writer, door("d1", sample("d1")), door("d2", sample("d2")))
    committed = (REGISTRY.get_sample_value("fleethub_store_batches_total") or 0.0) - batches
    assert committed >= 1
    assert REGISTRY.get_sample_value("fleethub_store_commit_seconds_count") == timed + committed


async def test_a_row_the_database_refuses_is_dropped_alone_and_the_rest_commits(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    before = dropped("IntegrityError")
    caplog.set_level(logging.ERROR, "fleethub.store")
    changes = [door(f"d{i}", sample(f"r{i}")) for i in range(7)]
    changes[4] = door("refused", sample("r4", fleet=None))

    await submit_together(running.writer, *changes)

    rooms = [pub.room for pub in running.published]
    assert rooms == [f"/doors/d{i}/state" for i in (0, 1, 2, 3, 5, 6)]
    assert [pub.seq for pub in running.published] == [1, 2, 3, 4, 5, 6]
    robots = [row.robot for row in await models.RobotPositionSample.all().order_by("id")]
    assert robots == ["r0", "r1", "r2", "r3", "r5", "r6"]
    assert await models.RoomState.filter(room="/doors/refused/state").count() == 0
    assert dropped("IntegrityError") == before + 1
    assert "dropped a change the database refused (IntegrityError" in caplog.text
    assert "/doors/refused/state" in caplog.text
    assert not running.task.done()


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="SQLite does not enforce column widths")
async def test_a_value_too_long_for_its_column_is_dropped_alone(running: Running) -> None:
    """PostgreSQL's refusal comes wrapped as tortoise's OperationalError: still not an outage."""
    before = dropped("OperationalError")
    await submit_together(
        running.writer, door("a"), door("long", sample("r", map="m" * 300)), door("b")
    )

    assert [pub.room for pub in running.published] == ["/doors/a/state", "/doors/b/state"]
    assert dropped("OperationalError") == before + 1


async def test_a_room_no_store_can_hold_is_dropped_alone(running: Running) -> None:
    before = dropped("UnknownRoom")
    await submit_together(running.writer, door("a"), door("x" * 600), door("b"))
    await submit_together(running.writer, door("c"))

    assert [pub.room for pub in running.published] == [
        "/doors/a/state",
        "/doors/b/state",
        "/doors/c/state",
    ]
    assert dropped("UnknownRoom") == before + 1
    assert running.writer.position.seq == 3


async def test_an_outage_is_waited_out_and_nothing_is_lost(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Commits fail with a refused connection three times, then the database is back."""

    class Flaky(Writer):
        failures = 3

        async def _store(self, *args: Any) -> None:
            if self.failures:
                self.failures -= 1
                raise ConnectionRefusedError(111, "Connection refused")
            await super()._store(*args)

    caplog.set_level(logging.WARNING, "fleethub.store")
    await open_database(settings.resolved_database_url, apply_migrations=True)
    try:
        await models.HubMeta.create(key="epoch", value=EPOCH)
        await models.HubMeta.create(key="seq", value=0)
        writer = Flaky(InMemoryBus(), StreamPosition(0, EPOCH))
        task = asyncio.create_task(writer.run())
        try:
            await submit_together(writer, door("a", sample("r1")), door("b", sample("r2")))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert await models.RobotPositionSample.all().count() == 2
        assert writer.position.seq == 2
    finally:
        await close_database()
    outage = [r for r in caplog.records if r.name == "fleethub.store"]
    assert [r.levelno for r in outage] == [logging.WARNING, logging.WARNING]
    assert "committing a batch failed (ConnectionRefusedError" in outage[0].getMessage()
    assert "committing a batch works again" in outage[1].getMessage()
    assert all(r.exc_info is None for r in outage)


async def test_a_database_that_refuses_every_write_stops_the_writer(running: Running) -> None:
    await submit_together(running.writer, door("a"))
    await get_connection("default").execute_script("DROP TABLE outbox")

    await running.writer.submit(door("b"))

    with pytest.raises(WriterFailed, match="the database refuses every write"):
        await asyncio.wait_for(running.task, 10)
    assert [pub.room for pub in running.published] == ["/doors/a/state"]
