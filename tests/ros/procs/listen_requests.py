"""Prints each door and lift request the bridge publishes as one JSON line, until stdin closes."""

from __future__ import annotations

import json

from _common import STATE, run, say
from rclpy.node import Node
from rmf_door_msgs.msg import DoorRequest
from rmf_lift_msgs.msg import LiftRequest


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

    node.create_subscription(DoorRequest, "adapter_door_requests", door, STATE)
    node.create_subscription(LiftRequest, "adapter_lift_requests", lift, STATE)
    say("ready")


if __name__ == "__main__":
    run("fleethub_test_listener", setup)
