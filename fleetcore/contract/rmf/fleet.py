"""Fleet and robot state and logs (rmf_api_msgs fleet_state, robot_state, fleet_log)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from fleetcore.contract import rooms
from fleetcore.contract.rmf._base import (
    MAX_ITEMS,
    Detail,
    MillisTime,
    Name,
    NonEmpty,
    OptionalName,
    RmfModel,
    ShortText,
    Text,
    room_name,
)

RobotStatus = Literal[
    "uninitialized", "offline", "shutdown", "idle", "charging", "working", "error"
]
Tier = Literal["uninitialized", "info", "warning", "error"]
FleetName = Annotated[str, NonEmpty, room_name(rooms.FLEET_STATE, rooms.FLEET_LOG)]


class Location2D(RmfModel):
    map: OptionalName
    x: float
    y: float
    yaw: float


class Issue(RmfModel):
    category: ShortText | None = None
    detail: Detail | None = None


class Commission(RmfModel):
    dispatch_tasks: bool | None = None
    direct_tasks: bool | None = None
    idle_behavior: bool | None = None


class MutexGroups(RmfModel):
    locked: Annotated[list[ShortText], Field(max_length=MAX_ITEMS)] = []
    requesting: Annotated[list[ShortText], Field(max_length=MAX_ITEMS)] = []


class RobotState(RmfModel):
    name: Name | None = None
    status: RobotStatus | None = None
    task_id: OptionalName | None = None
    unix_millis_time: MillisTime | None = None
    location: Location2D | None = None
    battery: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    issues: Annotated[list[Issue], Field(max_length=MAX_ITEMS)] | None = None
    commission: Commission | None = None
    mutex_groups: MutexGroups | None = None


class FleetState(RmfModel):
    name: FleetName
    robots: Annotated[dict[Name, RobotState], Field(max_length=MAX_ITEMS)] = {}


class LogEntry(RmfModel):
    seq: Annotated[int, Field(ge=0, lt=2**32)]
    tier: Tier
    unix_millis_time: MillisTime
    text: Text


LogEntries = Annotated[list[LogEntry], Field(max_length=MAX_ITEMS)]


class FleetLog(RmfModel):
    name: FleetName
    log: LogEntries | None = None
    robots: Annotated[dict[Name, LogEntries], Field(max_length=MAX_ITEMS)] | None = None
