"""Derivation: events, alerts and commands that exist only across time or several inputs.

Pure (``deriver``, one module per concern) apart from ``restore``,
``publish`` and ``retention``, which the hub runs against the database,
and ``reassigner``, the leader role that carries out reassignments through
the command executor.
"""

from hub.derive.config import DeriveConfig
from hub.derive.deriver import Deriver, Snapshot

__all__ = ["DeriveConfig", "Deriver", "Snapshot"]
