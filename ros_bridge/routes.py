"""What the bridge subscribes to and publishes: Open-RMF's topic names, types and QoS.

Names and QoS follow Open-RMF (rmf_fleet_adapter's StandardNames.hpp and the
publishers of rmf_ros2/rmf-web):

- door_states, lift_states, dispenser_states, ingestor_states, fleet_states:
  reliable, volatile, keep last 10 (RMF's default QoS for them).
- map: reliable, transient local, keep last 1, so a bridge that starts after
  the map server still receives the map.
- task_api_responses: reliable, transient local, keep last 10, as RMF's task
  API responders publish it; responses to other clients' requests that this
  replays on joining are ignored by request id.
- beacon_state, alert, alert_response: reliable, volatile, keep last 10. A
  volatile reader matches both volatile and transient-local writers, so the
  bridge interoperates whichever durability a site's publisher uses.
- fire_alarm_trigger, delivery_alert_request: reliable, transient local, keep
  last 10, as rmf-web subscribes to them.
- Publications (task_api_requests, alert_response, fire_alarm_trigger,
  delivery_alert_response, mutex_group_manual_release): reliable, transient
  local, keep last 10, so a responder that starts late still sees a request.
  adapter_door_requests, adapter_lift_requests: reliable, volatile, keep last
  10, as RMF's door and lift supervisors subscribe.

Alerts exist in rmf_task_msgs from Kilted on; with Jazzy's interfaces the
alert routes are absent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from fleetcore.contract.ingest import IngestType
from ros_bridge import convert

DOOR_STATES = "door_states"
LIFT_STATES = "lift_states"
DISPENSER_STATES = "dispenser_states"
INGESTOR_STATES = "ingestor_states"
BUILDING_MAP = "map"
FLEET_STATES = "fleet_states"
BEACON_STATE = "beacon_state"
ALERT = "alert"
ALERT_RESPONSE = "alert_response"
TASK_API_REQUESTS = "task_api_requests"
TASK_API_RESPONSES = "task_api_responses"
ADAPTER_DOOR_REQUESTS = "adapter_door_requests"
ADAPTER_LIFT_REQUESTS = "adapter_lift_requests"
FIRE_ALARM_TRIGGER = "fire_alarm_trigger"
DELIVERY_ALERT_REQUEST = "delivery_alert_request"
DELIVERY_ALERT_RESPONSE = "delivery_alert_response"
MUTEX_GROUP_MANUAL_RELEASE = "mutex_group_manual_release"


def _qos(depth: int, durability: DurabilityPolicy) -> QoSProfile:
    return QoSProfile(  # type: ignore[no-untyped-call, unused-ignore]  # rclpy leaves __init__ untyped
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=durability,
    )


STATE_QOS = _qos(10, DurabilityPolicy.VOLATILE)
MAP_QOS = _qos(1, DurabilityPolicy.TRANSIENT_LOCAL)
LATCHED_QOS = _qos(10, DurabilityPolicy.TRANSIENT_LOCAL)


@dataclass(frozen=True, slots=True)
class Route:
    """One subscription: a topic, its message class and QoS, and its conversion."""

    topic: str
    msg_type: type[Any]
    qos: QoSProfile
    ingest_type: str
    convert: Callable[[Any], dict[str, Any]]
    lossless: bool = False
    """True: every message is kept (unbounded queue). False: the queue is
    bounded and, when full, the oldest message is dropped and counted, which
    for a state topic only skips an intermediate state."""


def default_routes() -> list[Route]:
    """Every subscription the bridge makes, for the interface packages installed."""
    from rmf_building_map_msgs.msg import BuildingMap
    from rmf_dispenser_msgs.msg import DispenserState
    from rmf_door_msgs.msg import DoorState
    from rmf_fleet_msgs.msg import BeaconState, DeliveryAlert, FleetState
    from rmf_ingestor_msgs.msg import IngestorState
    from rmf_lift_msgs.msg import LiftState
    from rmf_task_msgs import msg as task_msgs
    from std_msgs.msg import Bool

    routes = [
        Route(DOOR_STATES, DoorState, STATE_QOS, IngestType.DOOR_STATE, convert.door_state),
        Route(LIFT_STATES, LiftState, STATE_QOS, IngestType.LIFT_STATE, convert.lift_state),
        Route(
            DISPENSER_STATES,
            DispenserState,
            STATE_QOS,
            IngestType.DISPENSER_STATE,
            convert.dispenser_state,
        ),
        Route(
            INGESTOR_STATES,
            IngestorState,
            STATE_QOS,
            IngestType.INGESTOR_STATE,
            convert.ingestor_state,
        ),
        Route(FLEET_STATES, FleetState, STATE_QOS, IngestType.FLEET_STATE, convert.fleet_state),
        Route(
            BUILDING_MAP,
            BuildingMap,
            MAP_QOS,
            IngestType.BUILDING_MAP,
            convert.building_map,
            lossless=True,
        ),
        Route(
            BEACON_STATE,
            BeaconState,
            STATE_QOS,
            IngestType.BEACON_STATE,
            convert.beacon_state,
        ),
        Route(
            FIRE_ALARM_TRIGGER,
            Bool,
            LATCHED_QOS,
            IngestType.FIRE_ALARM_TRIGGER,
            convert.fire_alarm_trigger,
            lossless=True,
        ),
        Route(
            DELIVERY_ALERT_REQUEST,
            DeliveryAlert,
            LATCHED_QOS,
            IngestType.DELIVERY_ALERT,
            convert.delivery_alert,
            lossless=True,
        ),
        Route(
            TASK_API_RESPONSES,
            task_msgs.ApiResponse,
            LATCHED_QOS,
            IngestType.COMMAND_RESPONSE,
            convert.command_response,
            lossless=True,
        ),
    ]
    if hasattr(task_msgs, "Alert"):
        routes += [
            Route(
                ALERT,
                task_msgs.Alert,
                STATE_QOS,
                IngestType.ALERT,
                convert.alert,
                lossless=True,
            ),
            Route(
                ALERT_RESPONSE,
                task_msgs.AlertResponse,
                STATE_QOS,
                IngestType.ALERT_RESPONSE,
                convert.alert_response,
                lossless=True,
            ),
        ]
    return routes
