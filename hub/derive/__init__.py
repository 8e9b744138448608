"""Derivation: events, alerts and commands that exist only across time or several inputs.

Pure, all of it: the :class:`Deriver` (one module per concern) takes messages
and the clock and returns :class:`~hub.derive.base.Output`; ``publish`` turns
that into rows and publications. What does I/O around it lives in ``hub/``:
``derive_stage`` (the stage inside the hub), ``derive_restore`` (its state from
the database at start), ``retention`` (pruning history) and ``reassigner`` (the
leader role that carries out reassignments through the command executor).
``tests/test_layering.py`` keeps this package free of I/O.
"""

from hub.derive.config import DeriveConfig
from hub.derive.deriver import Deriver, Snapshot

__all__ = ["DeriveConfig", "Deriver", "Snapshot"]
