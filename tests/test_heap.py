"""A started server freezes its heap, but collects startup's garbage first: frozen, a
cycle would never be freed."""

from __future__ import annotations

import gc
import weakref

from fleetcore.heap import freeze_startup_heap


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
