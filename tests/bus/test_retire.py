"""Retiring rooms from the bus (``Bus.retire``), on every implementation.

A retired room holds nothing in the bus; what it held is in the database,
which a bus with an archive reads instead, and a log room's resume points
from before its retirement are lost loudly (the client resyncs from REST),
never silently.
"""

from __future__ import annotations

import pytest
import redis.asyncio

from fleetcore.bus.base import Bus
from fleetcore.contract.rooms import TASK_STATE
from fleetcore.errors import UnrecoverablePosition
from fleetcore.store import models
from fleetcore.store.archive import archived
from tests.bus.conftest import MakeBus, pub

STATE = "/tasks/t1/state"
LOG = "/tasks/t1/log"


async def test_a_retired_state_room_has_no_sticky_value(bus: Bus) -> None:
    await bus.publish([pub(STATE, 1), pub("/tasks/t2/state", 2)])

    await bus.retire({STATE: 1})

    assert await bus.sticky(STATE) is None
    assert [p.room for p in await bus.sticky_all(TASK_STATE)] == ["/tasks/t2/state"]


async def test_a_room_published_after_its_retirement_seq_keeps_its_value(bus: Bus) -> None:
    await bus.publish([pub(STATE, 1)])
    await bus.publish([pub(STATE, 2, x=2)])

    await bus.retire({STATE: 1})

    assert await bus.sticky(STATE) == pub(STATE, 2, x=2)


@pytest.mark.usefixtures("database")
async def test_a_retired_state_room_is_read_from_the_archive(make_bus: MakeBus) -> None:
    bus = await make_bus(archive=archived)
    last = pub(STATE, 1, status="completed")
    await bus.publish([last])
    await models.RoomState.create(
        room=STATE, seq=1, epoch=1, received_ms=last.received_ms, data=last.data_json.decode()
    )

    await bus.retire({STATE: 1})

    assert await bus.sticky(STATE) == last


async def test_history_from_before_a_retired_log_rooms_last_entry_is_unrecoverable(
    bus: Bus,
) -> None:
    await bus.publish([pub(LOG, 1), pub(LOG, 2)])

    await bus.retire({LOG: 2})

    with pytest.raises(UnrecoverablePosition):
        await bus.history(LOG, 1)
    assert await bus.history(LOG, 2) == []


async def test_a_log_room_published_after_its_retirement_seq_keeps_its_entries(bus: Bus) -> None:
    await bus.publish([pub(LOG, 1), pub(LOG, 2)])

    await bus.retire({LOG: 1})

    assert [p.seq for p in await bus.history(LOG, 0)] == [1, 2]


async def test_a_log_room_published_again_after_retirement_resumes_only_after_it(
    bus: Bus,
) -> None:
    await bus.publish([pub(LOG, 1), pub(LOG, 2)])
    await bus.retire({LOG: 2})
    await bus.publish([pub(LOG, 3)])

    with pytest.raises(UnrecoverablePosition):
        await bus.history(LOG, 1)
    assert [p.seq for p in await bus.history(LOG, 2)] == [3]


@pytest.mark.integration
async def test_a_retired_room_leaves_no_key_or_hash_field_in_redis(
    make_redis_bus: MakeBus, raw_redis: redis.asyncio.Redis, prefix: str
) -> None:
    bus = await make_redis_bus(replay_window=1)
    await bus.publish([pub(STATE, 1), pub(LOG, 2), pub(LOG, 3)])

    await bus.retire({STATE: 1, LOG: 3})

    assert not await raw_redis.exists(f"{prefix}:log:{LOG}")
    assert not await raw_redis.hexists(f"{prefix}:log_trimmed", LOG)
    assert not await raw_redis.hexists(f"{prefix}:sticky_seq", STATE)
    assert not await raw_redis.hexists(f"{prefix}:sticky:{TASK_STATE.pattern}", STATE)
