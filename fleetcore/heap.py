"""The long-lived heap of a server process, kept out of the cyclic collector's full scans.

CPython's full (generation 2) collection walks every tracked object, and a
started server holds hundreds of thousands that live as long as the process:
modules, validators, ORM models, restored state. Walking them took 150-300 ms
on a loaded machine every few seconds, the event loop stopped for it, and a
hub's burst of fleet updates waited that long (bench/ingest.py --burst).
Frozen once startup is done, they are never walked again; what the process
allocates later is collected as before.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect startup's garbage, then freeze what survives (:func:`gc.freeze`).

    Called once a server process has started: a cycle frozen is never freed, so
    it must not run where apps come and go (the test suite's process).
    """
    gc.collect()
    gc.freeze()


HUB_YOUNG_COLLECTION = 50_000
"""Tracked objects a hub process allocates (net of those freed) before a young collection.

A burst of 100 fleet states of 50 robots keeps some 40,000 new objects (the
robots' states, in place of the last ones) and frees about as many. At
CPython's default of 700, young and middle collections walked the same live
states again and again during the burst (40 ms of it), and a full collection
followed every other second (12 ms a burst on average): at 50,000, 3 ms a
burst, and no full collection in 30 bursts. Cyclic garbage is still freed,
50,000 allocations later. bench/ingest.py --burst, same run, 700 vs 50,000:
hub CPU 0.46-0.56 vs 0.36-0.38 of a core, p99 725-973 vs 352-462 ms.
"""


def collect_young_every(allocations: int = HUB_YOUNG_COLLECTION) -> None:
    """Collect the young generation once ``allocations`` more tracked objects live than at the
    last collection; the older generations keep CPython's own pace (every 10 younger ones)."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(allocations, middle, oldest)
