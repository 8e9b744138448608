"""The updates GraphQL shares between subscribers are bounded by their bytes, not only their count.

Sharing matters while one publication is fanned out; a process must not hold
thousands of large fleet states for it.
"""

from __future__ import annotations

from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.envelope import Publication
from rest_api.graphql.subscription import SHARED_UPDATE_BYTES, Rooms

ROOM = "/fleets/big/state"
BIG = b'{"name":"big","robots":"' + b"r" * (1 << 20) + b'"}'


def _published(seq: int) -> Publication:
    return Publication(ROOM, seq, 1, 0, BIG)


def test_a_recent_update_is_shared_by_everyone_shown_the_same_bytes() -> None:
    rooms = Rooms(InMemoryBus())
    first = rooms.update(_published(1), BIG)

    assert rooms.update(_published(1), BIG) is first
    assert rooms.update(_published(1), b'{"name":"big"}') is not first


def test_large_updates_past_the_byte_budget_are_let_go_oldest_first() -> None:
    rooms = Rooms(InMemoryBus())
    first = rooms.update(_published(1), BIG)
    later = [
        rooms.update(_published(seq), BIG) for seq in range(2, SHARED_UPDATE_BYTES // len(BIG) + 3)
    ]

    assert rooms.update(_published(1), BIG) is not first
    assert rooms.update(_published(later[-1].seq), BIG) is later[-1]
