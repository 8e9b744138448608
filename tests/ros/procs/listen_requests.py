"""Prints each request the bridge publishes on an RMF topic as one JSON line, until stdin closes:
door and lift requests, fire alarm resets, delivery alert responses, mutex group releases."""

from __future__ import annotations

import json

from _common import STATE, run, say
from rclpy.node import Node
from rmf_door_msgs.msg import DoorRequest
from rmf_fleet_msgs.msg import DeliveryAlert, MutexGroupManualRelease
from rmf_lift_msgs.msg import LiftRequest
from std_msgs.msg import Bool


def setup(node: Node) -> None:
    def door(msg: DoorRequest) -> None:
        say(
            json.dumps(
                {
                    "door_name": msg.door_name,
                    "mode": msg.requested_mode.value,
                    "requester_id": msg.requester_id,
                }
            )
        )

    def lift(msg: LiftRequest) -> None:
        say(
            json.dumps(
                {
                    "lift_name": msg.lift_name,
                    "destination_floor": msg.destination_floor,
                    "session_id": msg.session_id,
                }
            )
        )

    def fire_alarm(msg: Bool) -> None:
        say(json.dumps({"fire_alarm_trigger": msg.data}))

    def delivery_alert(msg: DeliveryAlert) -> None:
        say(json.dumps({"delivery_alert": msg.id, "action": msg.action.value}))

    def release(msg: MutexGroupManualRelease) -> None:
        say(json.dumps({"release": list(msg.release_mutex_groups), "robot": msg.robot}))

    node.create_subscription(DoorRequest, "adapter_door_requests", door, STATE)
    node.create_subscription(LiftRequest, "adapter_lift_requests", lift, STATE)
    node.create_subscription(Bool, "fire_alarm_trigger", fire_alarm, STATE)
    node.create_subscription(DeliveryAlert, "delivery_alert_response", delivery_alert, STATE)
    node.create_subscription(MutexGroupManualRelease, "mutex_group_manual_release", release, STATE)
    say("ready")


if __name__ == "__main__":
    run("fleethub_test_listener", setup)
