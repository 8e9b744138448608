"""The writer stores appended rows as given, fenced by its epoch, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.envelope import StreamPosition
from fleetcore.contract.ingest import IngestType, decode
from fleetcore.errors import FencedOut
from fleetcore.settings import Settings
from fleetcore.store import models
from fleetcore.store.db import close_database, open_database
from hub.changes import Change, changes_for
from hub.writer import Writer
from tests.helpers import position_sample

EPOCH = 3


@pytest.fixture
async def writer(settings: Settings) -> AsyncIterator[Writer]:
    await open_database(settings.resolved_database_url, apply_migrations=True)
    await models.HubMeta.create(key="epoch", value=EPOCH)
    await models.HubMeta.create(key="seq", value=0)
    writer = Writer(InMemoryBus(), StreamPosition(0, EPOCH))
    running = asyncio.create_task(writer.run())
    try:
        yield writer
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await close_database()


async def stored(robot: str) -> dict[str, Any]:
    rows = await models.RobotPositionSample.filter(robot=robot).values()
    assert len(rows) == 1
    return {k: v for k, v in rows[0].items() if k != "id"}


async def test_appended_rows_are_stored_with_every_value_as_given(writer: Writer) -> None:
    await writer.submit(
        Change(rows=[position_sample("r1"), position_sample("r2", x=7, battery=None)])
    )
    await asyncio.wait_for(writer.drained(), 5)
    assert await stored("r1") == position_sample("r1").values
    assert await stored("r2") == {**position_sample("r2").values, "x": 7.0, "battery": None}


async def test_a_row_that_leaves_nullable_columns_out_stores_them_as_null(writer: Writer) -> None:
    row = position_sample("r3")
    del row.values["status"], row.values["battery"]
    await writer.submit(Change(rows=[row, position_sample("r4")]))
    await asyncio.wait_for(writer.drained(), 5)
    assert await stored("r3") == {**row.values, "status": None, "battery": None}
    assert await stored("r4") == position_sample("r4").values


def task_state(requested: int, labels: list[str]) -> Change:
    booking = {"id": "t1", "unix_millis_request_time": requested, "labels": labels}
    message = {"type": IngestType.TASK_STATE.value, "data": {"booking": booking}}
    return changes_for(decode(json.dumps(message)), 1_700_000_000_000)


async def test_a_tasks_labels_carry_its_request_time_as_it_is_written_again(
    writer: Writer,
) -> None:
    for requested in (1000, 2000):
        await writer.submit(task_state(requested, ["zone=north", "pickup"]))
        await asyncio.wait_for(writer.drained(), 5)
        labels = await models.TaskLabel.filter(task_id="t1").order_by("label_name")
        assert [(label.label_name, label.unix_millis_request_time) for label in labels] == [
            ("pickup", requested),
            ("zone", requested),
        ]
        assert (await models.TaskState.get(id="t1")).unix_millis_request_time == requested


async def test_a_writer_whose_epoch_was_superseded_writes_nothing(settings: Settings) -> None:
    await open_database(settings.resolved_database_url, apply_migrations=True)
    try:
        await models.HubMeta.create(key="epoch", value=EPOCH + 1)
        await models.HubMeta.create(key="seq", value=0)
        stale = Writer(InMemoryBus(), StreamPosition(0, EPOCH))
        await stale.submit(Change(rows=[position_sample("r5")]))
        with pytest.raises(FencedOut):
            await asyncio.wait_for(stale.run(), 5)
        assert await models.RobotPositionSample.all().count() == 0
    finally:
        await close_database()


async def test_a_change_is_told_once_it_is_committed(writer: Writer) -> None:
    committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    await writer.submit(Change(rows=[position_sample("r6")], committed=committed))
    await asyncio.wait_for(committed, 5)
    assert await stored("r6") == position_sample("r6").values


async def test_changes_a_fenced_writer_never_committed_are_cancelled(settings: Settings) -> None:
    await open_database(settings.resolved_database_url, apply_migrations=True)
    try:
        await models.HubMeta.create(key="epoch", value=EPOCH + 1)
        await models.HubMeta.create(key="seq", value=0)
        stale = Writer(InMemoryBus(), StreamPosition(0, EPOCH), max_rows=1)
        loop = asyncio.get_running_loop()
        taken, queued = loop.create_future(), loop.create_future()
        await stale.submit(Change(rows=[position_sample("r7")], committed=taken))
        await stale.submit(Change(rows=[position_sample("r8")], committed=queued))
        with pytest.raises(FencedOut):
            await asyncio.wait_for(stale.run(), 5)
        assert taken.cancelled() and queued.cancelled()
    finally:
        await close_database()
