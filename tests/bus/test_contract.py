"""The Bus contract, once, for every implementation (``make_bus`` is parametrized)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fleetcore.bus.base import Bus
from fleetcore.contract.envelope import StreamPosition
from fleetcore.contract.rooms import FLEET_STATE
from fleetcore.errors import BusError, UnrecoverablePosition
from tests.bus.conftest import MakeBus, Received, pub
from tests.conftest import eventually

FLEET_A = "/fleets/a/state"
FLEET_B = "/fleets/b/state"
DOOR = "/doors/d1/state"
LOG = "/tasks/t1/log"
OTHER_LOG = "/tasks/t2/log"


async def test_listener_receives_every_publication_in_seq_order(bus: Bus) -> None:
    received = Received().attach(bus)
    published = [pub(FLEET_A, 1), pub(LOG, 2), pub(FLEET_B, 3)], [pub(LOG, 4), pub(FLEET_A, 5)]
    for batch in published:
        await bus.publish(batch)

    await eventually(lambda: len(received.seqs) >= 5)
    assert received.publications == [p for batch in published for p in batch]


async def test_a_failing_listener_does_not_stop_the_others(bus: Bus) -> None:
    async def broken(batch: object) -> None:
        raise RuntimeError("listener bug")

    bus.add_listener(broken)
    received = Received().attach(bus)
    await bus.publish([pub(FLEET_A, 1)])
    await bus.publish([pub(FLEET_A, 2)])

    assert await eventually(lambda: received.seqs == [1, 2])


async def test_removed_listener_gets_nothing_more(bus: Bus) -> None:
    received = Received().attach(bus)
    witness = Received().attach(bus)
    await bus.publish([pub(FLEET_A, 1)])
    await eventually(lambda: received.seqs == [1])
    bus.remove_listener(received)
    await bus.publish([pub(FLEET_A, 2)])

    await eventually(lambda: witness.seqs == [1, 2])
    assert received.seqs == [1]


async def test_sticky_is_the_newest_publication_of_the_room(bus: Bus) -> None:
    await bus.publish([pub(FLEET_A, 1, x=1), pub(FLEET_A, 2, x=2)])
    await bus.publish([pub(FLEET_A, 3, x=3)])

    assert await bus.sticky(FLEET_A) == pub(FLEET_A, 3, x=3)


async def test_sticky_of_a_room_never_published_is_none(bus: Bus) -> None:
    await bus.publish([pub(FLEET_A, 1)])

    assert await bus.sticky(FLEET_B) is None


async def test_restoring_an_older_value_never_moves_sticky_backwards(bus: Bus) -> None:
    await bus.publish([pub(FLEET_A, 5, x="new")])
    await bus.restore([pub(FLEET_A, 3, x="old")], StreamPosition(5, 1))

    assert await bus.sticky(FLEET_A) == pub(FLEET_A, 5, x="new")


async def test_sticky_all_returns_the_newest_of_every_room_of_one_template(bus: Bus) -> None:
    await bus.publish([pub(FLEET_A, 1), pub(FLEET_B, 2), pub(DOOR, 3), pub(FLEET_A, 4)])

    found = await bus.sticky_all(FLEET_STATE)

    assert sorted(found, key=lambda p: p.seq) == [pub(FLEET_B, 2), pub(FLEET_A, 4)]


async def test_position_before_anything_is_published_is_zero(bus: Bus) -> None:
    assert await bus.position() == StreamPosition(0, 0)


async def test_position_is_that_of_the_last_publication(bus: Bus) -> None:
    await bus.publish([pub(FLEET_A, 1, epoch=2), pub(LOG, 2, epoch=2)])

    assert await bus.position() == StreamPosition(2, 2)


@pytest.mark.parametrize(
    "stale",
    [pub(FLEET_A, 3, x="replayed"), pub(FLEET_A, 2), pub(FLEET_A, 4, epoch=1)],
    ids=["same-seq", "older-seq", "older-epoch"],
)
async def test_publication_not_after_the_top_is_refused_and_changes_nothing(
    bus: Bus, stale: object
) -> None:
    await bus.publish([pub(FLEET_A, 3, epoch=2)])

    with pytest.raises(BusError):
        await bus.publish([stale])  # type: ignore[list-item]
    assert await bus.position() == StreamPosition(3, 2)
    assert await bus.sticky(FLEET_A) == pub(FLEET_A, 3, epoch=2)


async def test_restore_reinstates_sticky_values_and_the_position(bus: Bus) -> None:
    await bus.restore([pub(FLEET_A, 7, epoch=1), pub(DOOR, 9, epoch=1)], StreamPosition(12, 2))

    assert await bus.sticky(FLEET_A) == pub(FLEET_A, 7, epoch=1)
    assert await bus.sticky(DOOR) == pub(DOOR, 9, epoch=1)
    assert await bus.position() == StreamPosition(12, 2)


async def test_restore_never_rewinds_the_position(bus: Bus) -> None:
    await bus.publish([pub(FLEET_A, 20, epoch=3)])
    await bus.restore([], StreamPosition(10, 3))

    assert await bus.position() == StreamPosition(20, 3)


async def test_restore_at_the_same_seq_takes_the_newer_epoch(bus: Bus) -> None:
    await bus.publish([pub(FLEET_A, 20, epoch=3)])
    await bus.restore([], StreamPosition(20, 4))

    assert await bus.position() == StreamPosition(20, 4)


async def test_publishing_continues_after_restore(bus: Bus) -> None:
    await bus.restore([pub(FLEET_A, 7)], StreamPosition(12, 2))
    received = Received().attach(bus)
    await bus.publish([pub(FLEET_A, 13, epoch=2)])

    await eventually(lambda: received.seqs == [13])
    assert await bus.sticky(FLEET_A) == pub(FLEET_A, 13, epoch=2)


@dataclass(frozen=True)
class Recover:
    """One row of the recovery table (centrifuge's ``clientRecoverTests``)."""

    window: int
    floor: int
    seqs: tuple[int, ...]
    since: int
    expect: tuple[int, ...] | None
    """Seqs returned, or None: UnrecoverablePosition."""
    noise: bool = False
    """Interleave publications of another log room, so the room's seqs are sparse."""


RECOVERY = {
    "empty-stream": Recover(10, 0, (), 0, ()),
    "from-zero": Recover(10, 0, (1, 2, 3, 4, 5), 0, (1, 2, 3, 4, 5)),
    "from-position": Recover(10, 0, (1, 2, 3, 4, 5), 2, (3, 4, 5)),
    "same-position": Recover(10, 0, (1, 2, 3, 4, 5), 5, ()),
    "future-position": Recover(10, 0, (1, 2, 3, 4, 5), 9, ()),
    "trimmed": Recover(3, 0, (1, 2, 3, 4, 5), 1, None),
    "trimmed-through-exactly-since": Recover(3, 0, (1, 2, 3, 4, 5), 2, (3, 4, 5)),
    "sparse-seqs-still-covered": Recover(2, 0, (10, 20, 30), 15, (20, 30), noise=True),
    "sparse-seqs-trimmed": Recover(2, 0, (10, 20, 30), 9, None, noise=True),
    "after-restore-floor": Recover(10, 10, (11, 12, 13), 10, (11, 12, 13)),
    "before-restore-floor": Recover(10, 10, (11, 12, 13), 9, None),
    "before-restore-floor-room-never-published": Recover(10, 10, (), 3, None),
    "after-restore-floor-room-never-published": Recover(10, 10, (), 10, ()),
}


@pytest.mark.parametrize("case", RECOVERY.values(), ids=RECOVERY.keys())
async def test_history_since(make_bus: MakeBus, case: Recover) -> None:
    bus = await make_bus(replay_window=case.window)
    await bus.restore([], StreamPosition(case.floor, 1))
    for seq in case.seqs:
        if case.noise:
            await bus.publish([pub(OTHER_LOG, seq - 1)])
        await bus.publish([pub(LOG, seq)])

    if case.expect is None:
        with pytest.raises(UnrecoverablePosition):
            await bus.history(LOG, case.since)
    else:
        assert [p.seq for p in await bus.history(LOG, case.since)] == list(case.expect)


async def test_history_returns_whole_publications(bus: Bus) -> None:
    await bus.publish([pub(LOG, 1, text="a"), pub(OTHER_LOG, 2), pub(LOG, 3, text="b")])

    assert await bus.history(LOG, 0) == [pub(LOG, 1, text="a"), pub(LOG, 3, text="b")]
