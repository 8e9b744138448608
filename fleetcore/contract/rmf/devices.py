"""Door, lift, dispenser and ingestor states, as rmf-web renders the ROS messages.

Each is the ROS message field for field; times are builtin_interfaces/Time.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from fleetcore.contract import rooms
from fleetcore.contract.rmf._base import (
    MAX_ITEMS,
    NonEmpty,
    RmfModel,
    RosTime,
    ShortText,
    room_name,
)


class DoorMode(RmfModel):
    """rmf_door_msgs/DoorMode: 0 closed, 1 moving, 2 open, 3 offline, 4 unknown."""

    value: Annotated[int, Field(ge=0, le=255)]


class DoorState(RmfModel):
    door_time: RosTime = RosTime()
    door_name: Annotated[str, NonEmpty, room_name(rooms.DOOR_STATE)]
    current_mode: DoorMode


class LiftState(RmfModel):
    lift_time: RosTime = RosTime()
    lift_name: Annotated[str, NonEmpty, room_name(rooms.LIFT_STATE)]
    available_floors: Annotated[list[ShortText], Field(max_length=MAX_ITEMS)] = []
    current_floor: ShortText = ""
    destination_floor: ShortText = ""
    door_state: Annotated[int, Field(ge=0, le=255)] = 0
    motion_state: Annotated[int, Field(ge=0, le=255)] = 0
    available_modes: Annotated[list[int], Field(max_length=256)] = []
    current_mode: Annotated[int, Field(ge=0, le=255)] = 0
    session_id: ShortText = ""


class DispenserState(RmfModel):
    time: RosTime = RosTime()
    guid: Annotated[str, NonEmpty, room_name(rooms.DISPENSER_STATE)]
    mode: Annotated[int, Field(ge=0)] = 0
    request_guid_queue: Annotated[list[ShortText], Field(max_length=MAX_ITEMS)] = []
    seconds_remaining: float = 0.0


class IngestorState(RmfModel):
    time: RosTime = RosTime()
    guid: Annotated[str, NonEmpty, room_name(rooms.INGESTOR_STATE)]
    mode: Annotated[int, Field(ge=0)] = 0
    request_guid_queue: Annotated[list[ShortText], Field(max_length=MAX_ITEMS)] = []
    seconds_remaining: float = 0.0
