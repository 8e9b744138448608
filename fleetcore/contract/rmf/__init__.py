"""Pydantic models of the RMF JSON that rooms and REST carry.

Field names and types are wire facts taken from Open-RMF's task-API schemas
(rmf_api_msgs) and from the ROS messages as rmf-web's api-server renders them
as JSON. Every model refuses non-finite numbers and bounds its sizes; unknown
fields are kept, so a newer RMF that adds a field still passes through.
"""

from fleetcore.contract.rmf.building_map import BuildingMap
from fleetcore.contract.rmf.devices import DispenserState, DoorState, IngestorState, LiftState
from fleetcore.contract.rmf.fleet import FleetLog, FleetState, RobotState
from fleetcore.contract.rmf.site import (
    BeaconState,
    DeliveryAlert,
    FireAlarmTrigger,
    RmfAlert,
    RmfAlertResponse,
)
from fleetcore.contract.rmf.task import TaskLog, TaskState

__all__ = [
    "BeaconState",
    "BuildingMap",
    "DeliveryAlert",
    "DispenserState",
    "DoorState",
    "FireAlarmTrigger",
    "FleetLog",
    "FleetState",
    "IngestorState",
    "LiftState",
    "RmfAlert",
    "RmfAlertResponse",
    "RobotState",
    "TaskLog",
    "TaskState",
]
