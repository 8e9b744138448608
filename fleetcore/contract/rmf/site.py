"""What only ROS 2 carries from an RMF site: beacons, RMF's alerts, delivery alerts, the fire alarm.

Each is the ROS message field for field, as rmf-web's api-server renders it
(rmf_fleet_msgs/BeaconState, rmf_task_msgs/Alert and AlertResponse). An alert
becomes rmf-web's alert request model in the hub, which stamps its time.
"""

from __future__ import annotations

from typing import Annotated, Literal

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


class DeliveryAlert(RmfModel):
    """rmf_fleet_msgs/DeliveryAlert as rmf-web names its enums (its deprecated delivery alerts).

    The same model is RMF's alert (``delivery_alert_request``) and an
    operator's response to it (``delivery_alert_response``, with the action
    chosen).
    """

    id: Name
    category: Literal["missing", "wrong", "obstructed", "cancelled"]
    tier: Literal["warning", "error"]
    action: Literal["waiting", "cancel", "override", "resume"]
    task_id: ShortText
    message: Text = ""


class FireAlarmTrigger(RmfModel):
    """std_msgs/Bool on RMF's ``fire_alarm_trigger`` topic: whether the fire alarm is on."""

    trigger: bool
