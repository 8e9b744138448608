"""A started server freezes its heap, but collects startup's garbage first: frozen, a
cycle would never be freed. A hub collects its young generation less often."""

from __future__ import annotations

import gc
import weakref

from fleetcore.heap import collect_young_every, freeze_startup_heap


class Node:
    peer: Node | None = None


def test_startup_garbage_is_collected_and_what_lives_on_is_frozen() -> None:
    garbage = Node()
    garbage.peer = garbage
    collected = weakref.ref(garbage)
    del garbage
    kept = Node()
    kept.peer = kept
    try:
        freeze_startup_heap()
        assert collected() is None
        assert gc.get_freeze_count() > 0
        assert not any(obj is kept for obj in gc.get_objects())
    finally:
        gc.unfreeze()
    assert any(obj is kept for obj in gc.get_objects())


def test_a_hub_collects_its_young_generation_after_the_given_allocations() -> None:
    before = gc.get_threshold()
    try:
        collect_young_every(50_000)
        assert gc.get_threshold() == (50_000, *before[1:])
    finally:
        gc.set_threshold(*before)
