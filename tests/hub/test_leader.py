"""The leadership lease and fencing: one writer, and a superseded one writes nothing."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.ingest import IngestType, decode, encode
from fleetcore.errors import NotLeading
from fleetcore.settings import Settings
from fleetcore.store import models
from fleetcore.store.db import close_database, open_database
from hub.leader import Lease
from hub.service import Hub
from tests.conftest import TEST_DATABASE_URL, eventually
from tests.helpers import fleet


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


async def test_a_free_lease_is_taken_and_a_held_one_is_not(database: None) -> None:
    clock = Clock()
    a, b = Lease("a", 5000, clock_ms=clock), Lease("b", 5000, clock_ms=clock)
    assert await a.try_acquire()
    assert not await b.try_acquire()
    assert await a.try_acquire(), "the holder may take it again"


async def test_an_expired_lease_passes_to_the_standby_and_the_old_holder_cannot_renew(
    database: None,
) -> None:
    clock = Clock()
    a, b = Lease("a", 5000, clock_ms=clock), Lease("b", 5000, clock_ms=clock)
    assert await a.try_acquire()
    clock.now += 4999
    assert not await b.try_acquire()
    clock.now += 2
    assert await b.try_acquire()
    assert not await a.renew()
    assert await b.renew()


async def test_renewing_keeps_the_lease(database: None) -> None:
    clock = Clock()
    a, b = Lease("a", 5000, clock_ms=clock), Lease("b", 5000, clock_ms=clock)
    assert await a.try_acquire()
    for _ in range(5):
        clock.now += 3000
        assert await a.renew()
        assert not await b.try_acquire()


async def test_a_released_lease_is_taken_at_once(database: None) -> None:
    clock = Clock()
    a, b = Lease("a", 5000, clock_ms=clock), Lease("b", 5000, clock_ms=clock)
    assert await a.try_acquire()
    await a.release()
    assert await b.try_acquire()


def frame(x: float) -> bytes:
    return encode(IngestType.FLEET_STATE, fleet("f1", {"r1": (x, 0.0)}))


async def test_a_superseded_hub_writes_no_row_and_the_successor_continues_its_seq(
    database: None, settings: Settings
) -> None:
    old = Hub(settings, InMemoryBus())
    await old.start()
    await old.ingest(decode(frame(1.0)))
    await old.drained()
    old_epoch, last_seq = old.position.epoch, old.position.seq

    new = Hub(settings, InMemoryBus())
    await new.start()
    assert new.position.epoch == old_epoch + 1
    assert new.position.seq == last_seq

    await old.ingest(decode(frame(2.0)))
    await eventually(lambda: old.writer_task.done())
    await old.stop(drain_timeout=0)
    assert await models.RoomState.filter(epoch=old_epoch, seq__gt=last_seq).count() == 0
    assert await models.Outbox.filter(epoch=old_epoch, seq__gt=last_seq).count() == 0
    assert (await models.HubMeta.get(key="seq")).value == last_seq

    await new.ingest(decode(frame(3.0)))
    await new.drained()
    assert new.position.seq == last_seq + 1
    state = await models.RoomState.get(room="/fleets/f1/state")
    assert (state.seq, state.epoch) == (last_seq + 1, old_epoch + 1)
    await new.stop()


async def test_a_starting_hub_refuses_messages_until_its_derived_state_is_restored(
    database: None, settings: Settings
) -> None:
    """A standby taking over must answer "not leading", never fail on a half-started stage."""
    hub = Hub(settings, InMemoryBus())
    starting = asyncio.create_task(hub.start())
    refusals = 0
    while not starting.done():
        assert not hub.ready
        with pytest.raises(NotLeading):
            await hub.ingest(decode(frame(1.0)))
        refusals += 1
        await asyncio.sleep(0)
    await starting
    assert refusals > 0, "the loop must have run while the hub was starting"
    assert hub.ready
    await hub.ingest(decode(frame(2.0)))
    await hub.drained()
    assert await models.RoomState.filter(room="/fleets/f1/state").count() == 1
    await hub.stop()
    assert not hub.ready


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL: SQLite has one writer anyway")
async def test_a_transaction_a_frozen_hub_left_open_is_ended_so_a_takeover_need_not_wait(
    database_url: str,
) -> None:
    await open_database(database_url, apply_migrations=True)
    await models.HubMeta.create(key="epoch", value=1)
    await close_database()
    # As a hub opens it: migrated before (`fleethub migrate`), and ending idle transactions.
    await open_database(database_url, apply_migrations=False, idle_transaction_timeout_s=1.0)
    locked = asyncio.Event()

    async def frozen_leader() -> None:
        async with in_transaction() as conn:
            await conn.execute_query("UPDATE hub_meta SET value = value WHERE key = 'epoch'")
            locked.set()
            await asyncio.Event().wait()  # frozen mid-batch: it never commits

    leader = asyncio.create_task(frozen_leader())
    url, _, query = database_url.partition("?")
    schema = parse_qs(query)["schema"][0]
    standby = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        await locked.wait()
        taken = "UPDATE hub_meta SET value = value + 1 WHERE key = 'epoch'"
        assert await asyncio.wait_for(standby.execute(taken), 30) == "UPDATE 1"
    finally:
        await standby.close()
        leader.cancel()
        await asyncio.gather(leader, return_exceptions=True)
        await close_database()
