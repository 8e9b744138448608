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
