"""Simulated VDA 5050 vehicles: outside MQTT clients that speak only VDA 5050.

- :class:`SimVehicle`: one vehicle's behaviour, advanced by ``step(dt)``.
- :class:`SimFleet`: vehicles on a real broker, each with its own connection and last will.
"""

from simulator.vehicles.fleet import SimFleet, SimFleetConfig, VehicleClient, sim_fleet_config
from simulator.vehicles.vehicle import SimVehicle, VehicleProfile

__all__ = [
    "SimFleet",
    "SimFleetConfig",
    "SimVehicle",
    "VehicleClient",
    "VehicleProfile",
    "sim_fleet_config",
]
