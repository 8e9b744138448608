"""The writer drops a change the database refuses, alone, and commits the rest of its batch.

A burst larger than a batch is committed batch by batch and published in
order, once. An outage is waited out without losing anything; a database that refuses
every write stops the writer with WriterFailed, for the process to be restarted.
A change's history (its robots' position samples) is committed after its publication,
before the change counts as committed; history the database refuses is dropped alone.
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
from tests.helpers import position_sample

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
def writer_class() -> type[Writer]:
    """The writer to run; a test parametrizes it with one whose database fails for a while."""
    return Writer


@pytest.fixture
async def running(
    settings: Settings, max_rows: int, writer_class: type[Writer]
) -> AsyncIterator[Running]:
    await open_database(settings.resolved_database_url, apply_migrations=True)
    await models.HubMeta.create(key="epoch", value=EPOCH)
    await models.HubMeta.create(key="seq", value=0)
    bus = InMemoryBus()
    published: list[Publication] = []

    async def hear(batch: Sequence[Publication]) -> None:
        published.extend(batch)

    bus.add_listener(hear)
    writer = writer_class(bus, StreamPosition(0, EPOCH), max_rows=max_rows)
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


def audit(target: str, **values: Any) -> Row:
    """A row appended in the transaction of its change's publications."""
    row = {
        "unix_millis_time": 1_700_000_000_123,
        "username": "admin",
        "action": "test",
        "target": target,
        "detail": "",
        "status": 200,
    }
    return Row("AuditEntry", {**row, **values})


async def audited() -> list[str]:
    return [row.target for row in await models.AuditEntry.all().order_by("id")]


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
    await submit_together(running.writer, *(door(name, audit(name)) for name in names))
    assert REGISTRY.get_sample_value("fleethub_store_batches_total") == batches + 5
    rooms = [f"/doors/{name}/state" for name in names]
    assert [(pub.seq, pub.room) for pub in running.published] == list(enumerate(rooms, start=1))
    assert await audited() == names
    assert (await models.HubMeta.get(key="seq")).value == 25


async def test_each_committed_batch_is_timed_once(running: Running) -> None:
    timed = REGISTRY.get_sample_value("fleethub_store_commit_seconds_count") or 0.0
    batches = REGISTRY.get_sample_value("fleethub_store_batches_total") or 0.0
    await submit_together(running.writer, door("d1", audit("d1")), door("d2", audit("d2")))
    committed = (REGISTRY.get_sample_value("fleethub_store_batches_total") or 0.0) - batches
    assert committed >= 1
    assert REGISTRY.get_sample_value("fleethub_store_commit_seconds_count") == timed + committed


async def test_a_row_the_database_refuses_is_dropped_alone_and_the_rest_commits(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    before = dropped("IntegrityError")
    caplog.set_level(logging.ERROR, "fleethub.store")
    changes = [door(f"d{i}", audit(f"r{i}")) for i in range(7)]
    changes[4] = door("refused", audit("r4", username=None))

    await submit_together(running.writer, *changes)

    rooms = [pub.room for pub in running.published]
    assert rooms == [f"/doors/d{i}/state" for i in (0, 1, 2, 3, 5, 6)]
    assert [pub.seq for pub in running.published] == [1, 2, 3, 4, 5, 6]
    assert await audited() == ["r0", "r1", "r2", "r3", "r5", "r6"]
    assert await models.RoomState.filter(room="/doors/refused/state").count() == 0
    assert dropped("IntegrityError") == before + 1
    assert "dropped a change the database refused (IntegrityError" in caplog.text
    assert "/doors/refused/state" in caplog.text
    assert not running.task.done()


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="SQLite does not enforce column widths")
async def test_a_value_too_long_for_its_column_is_dropped_alone(running: Running) -> None:
    """PostgreSQL's refusal comes wrapped as tortoise's OperationalError: still not an outage."""
    before = dropped("OperationalError")
    await submit_together(running.writer, door("a"), door("long", audit("t" * 600)), door("b"))

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


class FlakyCommits(Writer):
    """Its commits fail with a refused connection three times, then the database is back."""

    failures = 3

    async def _store(self, *args: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError(111, "Connection refused")
        await super()._store(*args)


@pytest.mark.parametrize("writer_class", [FlakyCommits])
async def test_an_outage_is_waited_out_and_nothing_is_lost(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "fleethub.store")

    await submit_together(running.writer, door("a", audit("r1")), door("b", audit("r2")))

    assert await audited() == ["r1", "r2"]
    assert running.writer.position.seq == 2
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


async def sampled() -> list[str]:
    return [row.robot for row in await models.RobotPositionSample.all().order_by("id")]


async def test_a_changes_samples_are_stored_once_it_counts_as_committed(running: Running) -> None:
    committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    change = door("d1", position_sample("r1"), position_sample("r2"))
    change.committed = committed

    await running.writer.submit(change)
    await asyncio.wait_for(committed, 10)

    assert await sampled() == ["r1", "r2"]
    assert [pub.room for pub in running.published] == ["/doors/d1/state"]


class FlakySamples(Writer):
    """Its first commit of samples fails for an outage; it notes the last seq published
    at each attempt."""

    failures = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.published_at_attempts: list[int] = []

    async def _store_history(self, *args: Any) -> None:
        self.published_at_attempts.append(self._published)
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError(111, "Connection refused")
        await super()._store_history(*args)


@pytest.mark.parametrize("writer_class", [FlakySamples])
async def test_samples_are_committed_after_their_batch_is_published(running: Running) -> None:
    """Their transaction fails once for an outage: the batch is published by then, and the
    samples are stored once the database is back."""
    await submit_together(
        running.writer, door("a", position_sample("r1")), door("b", position_sample("r2"))
    )

    assert isinstance(running.writer, FlakySamples)
    assert running.writer.published_at_attempts == [2, 2]
    assert await sampled() == ["r1", "r2"]


async def test_a_sample_the_database_refuses_is_dropped_with_its_changes_history_alone(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    before = dropped("IntegrityError")
    caplog.set_level(logging.ERROR, "fleethub.store")
    changes = [door(f"d{i}", position_sample(f"r{i}")) for i in range(5)]
    changes[2] = door("d2", position_sample("r2", fleet=None), position_sample("r2b"))

    await submit_together(running.writer, *changes)

    assert [pub.room for pub in running.published] == [f"/doors/d{i}/state" for i in range(5)]
    assert await sampled() == ["r0", "r1", "r3", "r4"]
    assert dropped("IntegrityError") == before + 1
    assert "dropped the history of a change the database refused (IntegrityError" in caplog.text
    assert "2 RobotPositionSample" in caplog.text
    assert not running.task.done()
