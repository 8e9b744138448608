"""VDA 5050 (2.x) as fleethub speaks it: message models, topics, decoding of vehicle messages.

Shared by the master control (:mod:`vda5050`) and the simulated vehicles
(:mod:`simulator.vehicles`), which speak to each other only through these.
"""

from fleetcore.contract.vda5050 import v2
from fleetcore.contract.vda5050.codec import Reason, VdaRejected, decode, encode, parse
from fleetcore.contract.vda5050.topics import (
    DELIVERY,
    MASTER_TOPICS,
    VEHICLE_TOPICS,
    Topic,
    Topics,
    VehicleId,
)

__all__ = [
    "DELIVERY",
    "MASTER_TOPICS",
    "VEHICLE_TOPICS",
    "Reason",
    "Topic",
    "Topics",
    "VdaRejected",
    "VehicleId",
    "decode",
    "encode",
    "parse",
    "v2",
]
