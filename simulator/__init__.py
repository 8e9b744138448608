"""A simulated Open-RMF site that reaches the hub as an outside fleet adapter would.

- :class:`Simulation`: the site (robots, tasks, doors, lift, dispensers,
  ingestors) as a deterministic state machine advanced by ``step(dt)``, with
  the command API (dispatch, cancel, kill, stop/decommission robots).
- :class:`SimulatorService`: that simulation ticked in real time and published
  to the hub's ``/_internal`` websocket; :func:`run` is its coroutine form.
"""

from fleetcore.site_client import SiteClient
from simulator.building import Site, sample_site
from simulator.service import SimulatorService, ingest_url, run
from simulator.simulation import SimConfig, Simulation
from simulator.tasks import CommandRejected

__all__ = [
    "CommandRejected",
    "SimConfig",
    "Simulation",
    "SimulatorService",
    "Site",
    "SiteClient",
    "ingest_url",
    "run",
    "sample_site",
]
