"""What only ROS 2 carries from an RMF site: beacons and RMF's own alerts (from ros_bridge).

Each is the ROS message field for field, as rmf-web's api-server renders it
(rmf_fleet_msgs/BeaconState, rmf_task_msgs/Alert and AlertResponse). An alert
becomes rmf-web's alert request model in the hub, which stamps its time.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from fleetcore.contract import rooms
from fleetcore.contract.limits import NAME_BYTES
from fleetcore.contract.rmf._base import (
    Name,
    NonEmpty,
    OptionalName,
    RmfModel,
    ShortText,
    Text,
    column,
    room_name,
)


class BeaconState(RmfModel):
    id: Annotated[str, NonEmpty, room_name(rooms.BEACON_STATE)]
    online: bool = False
    category: ShortText = ""
    activated: bool = False
    level: ShortText = ""


class AlertParameter(RmfModel):
    name: ShortText
    value: ShortText


class RmfAlert(RmfModel):
    """rmf_task_msgs/Alert: ``tier`` is 0 info, 1 warning, 2 error."""

    id: Name
    title: ShortText = ""
    subtitle: ShortText = ""
    message: Text = ""
    display: bool = True
    tier: Annotated[int, Field(ge=0, le=2)] = 0
    responses_available: Annotated[list[ShortText], Field(max_length=32)] = []
    alert_parameters: Annotated[list[AlertParameter], Field(max_length=64)] = []
    task_id: OptionalName = ""


class RmfAlertResponse(RmfModel):
    """rmf_task_msgs/AlertResponse: someone at the site answered an alert."""

    id: Name
    response: Annotated[str, NonEmpty, column(NAME_BYTES)]
