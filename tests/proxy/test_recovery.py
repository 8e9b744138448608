"""The pure merge of initial values and live publications buffered during a (re)subscribe."""

from __future__ import annotations

from fleetcore.bus.recovery import latest, merge
from fleetcore.contract.envelope import Publication


def pub(seq: int) -> Publication:
    return Publication("/tasks/t/log", seq, 1, 0, b"{}")


def seqs(pubs: list[Publication]) -> list[int]:
    return [p.seq for p in pubs]


def test_history_and_live_merge_in_order_without_duplicates() -> None:
    assert seqs(merge([pub(3), pub(4), pub(5)], [pub(5), pub(6)], since=2)) == [3, 4, 5, 6]


def test_nothing_at_or_before_since_is_replayed() -> None:
    assert seqs(merge([pub(1), pub(2), pub(3)], [], since=2)) == [3]


def test_live_items_that_overtook_history_are_ordered() -> None:
    assert seqs(merge([pub(4)], [pub(6), pub(5)], since=0)) == [4, 5, 6]


def test_a_state_room_gets_only_its_newest_value() -> None:
    assert seqs(latest([pub(3), pub(7), pub(5)], since=0)) == [7]
    assert latest([pub(3)], since=3) == []
