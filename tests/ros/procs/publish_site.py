"""Publishes an RMF site's state at 10 Hz until stdin closes: usage publish_site.py KIND...

KINDs: door, lift, fleet, beacon, alert (Kilted and later: RMF's alerts live in
rmf_task_msgs from Kilted on), dispenser, dispenser_nan (seconds_remaining NaN,
then valid ones), map (once, transient local, with a 2x1 PNG), fire_alarm and
delivery_alert (once each, transient local, as RMF publishes them). Each state
is stamped with the wall clock at publication, so a test can measure latency.
"""

from __future__ import annotations

import struct
import sys
import time
import zlib

from _common import LATCHED, MAP, STATE, run
from builtin_interfaces.msg import Time
from rclpy.node import Node
from rmf_building_map_msgs.msg import AffineImage, BuildingMap, Door, Graph, GraphNode, Level, Param
from rmf_dispenser_msgs.msg import DispenserState
from rmf_door_msgs.msg import DoorMode, DoorState
from rmf_fleet_msgs.msg import (
    BeaconState,
    DeliveryAlert,
    DeliveryAlertAction,
    DeliveryAlertCategory,
    DeliveryAlertTier,
    FleetState,
    Location,
    RobotMode,
    RobotState,
)
from rmf_lift_msgs.msg import LiftState
from std_msgs.msg import Bool


def png_2x1() -> bytes:
    """A valid 2x1 RGB PNG (a red and a blue pixel)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\x00\x00\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def now() -> Time:
    t = time.time()
    return Time(sec=int(t), nanosec=int((t % 1) * 1e9))


def building_map() -> BuildingMap:
    graph = Graph(
        name="0",
        vertices=[
            GraphNode(
                x=1.0,
                y=2.0,
                name="pantry",
                params=[Param(name="is_charger", type=4, value_bool=True)],
            ),
            GraphNode(x=5.0, y=2.0, name=""),
        ],
    )
    level = Level(
        name="L1",
        elevation=0.0,
        images=[
            AffineImage(
                name="L1",
                x_offset=0.5,
                y_offset=-1.0,
                yaw=0.0,
                scale=0.05,
                encoding="png",
                data=png_2x1(),
            )
        ],
        doors=[
            Door(
                name="door_a",
                v1_x=1.0,
                v1_y=1.0,
                v2_x=2.0,
                v2_y=1.0,
                door_type=1,
                motion_range=1.57,
                motion_direction=1,
            )
        ],
        nav_graphs=[graph],
    )
    return BuildingMap(name="test_site", levels=[level])


def fleet_state() -> FleetState:
    robots = [
        RobotState(
            name=f"bot{i}",
            model="tinyRobot",
            task_id="task-7" if i == 1 else "",
            mode=RobotMode(mode=mode),
            battery_percent=battery,
            location=Location(t=now(), x=float(i), y=2.5, yaw=0.5, level_name="L1"),
        )
        for i, (mode, battery) in enumerate(
            [(RobotMode.MODE_IDLE, 80.0), (RobotMode.MODE_MOVING, 55.5)]
        )
    ]
    return FleetState(name="tinyRobot", robots=robots)


def setup(node: Node) -> None:
    kinds = set(sys.argv[1:])
    pubs = {}
    if "door" in kinds:
        pubs["door"] = node.create_publisher(DoorState, "door_states", STATE)
    if "lift" in kinds:
        pubs["lift"] = node.create_publisher(LiftState, "lift_states", STATE)
    if "fleet" in kinds:
        pubs["fleet"] = node.create_publisher(FleetState, "fleet_states", STATE)
    if "beacon" in kinds:
        pubs["beacon"] = node.create_publisher(BeaconState, "beacon_state", STATE)
    if "alert" in kinds:
        from rmf_task_msgs.msg import Alert, AlertParameter

        alert = Alert(
            id="ros-alert-1",
            title="Stuck",
            message="bot1 cannot reach the pantry",
            tier=Alert.TIER_ERROR,
            responses_available=["retry", "cancel"],
            alert_parameters=[AlertParameter(name="robot", value="bot1")],
            task_id="task-9",
        )
        pubs["alert"] = node.create_publisher(Alert, "alert", STATE)
    if kinds & {"dispenser", "dispenser_nan"}:
        pubs["dispenser"] = node.create_publisher(DispenserState, "dispenser_states", STATE)
    if "map" in kinds:
        node.create_publisher(BuildingMap, "map", MAP).publish(building_map())
    if "fire_alarm" in kinds:
        node.create_publisher(Bool, "fire_alarm_trigger", LATCHED).publish(Bool(data=True))
    if "delivery_alert" in kinds:
        node.create_publisher(DeliveryAlert, "delivery_alert_request", LATCHED).publish(
            DeliveryAlert(
                id="delivery-1",
                category=DeliveryAlertCategory(value=DeliveryAlertCategory.WRONG),
                tier=DeliveryAlertTier(value=DeliveryAlertTier.ERROR),
                task_id="task-7",
                action=DeliveryAlertAction(value=DeliveryAlertAction.WAITING),
                message="wrong item",
            )
        )
    sent = [0]

    def tick() -> None:
        if "door" in pubs:
            pubs["door"].publish(
                DoorState(
                    door_time=now(),
                    door_name="door_a",
                    current_mode=DoorMode(value=DoorMode.MODE_OPEN),
                )
            )
        if "lift" in pubs:
            pubs["lift"].publish(
                LiftState(
                    lift_time=now(),
                    lift_name="lift_1",
                    available_floors=["L1", "L2"],
                    current_floor="L1",
                    destination_floor="L2",
                    door_state=LiftState.DOOR_CLOSED,
                    motion_state=LiftState.MOTION_UP,
                    available_modes=[LiftState.MODE_HUMAN, LiftState.MODE_AGV],
                    current_mode=LiftState.MODE_AGV,
                    session_id="session-1",
                )
            )
        if "fleet" in pubs:
            pubs["fleet"].publish(fleet_state())
        if "beacon" in pubs:
            pubs["beacon"].publish(
                BeaconState(id="beacon_1", online=True, category="fire", activated=True, level="L1")
            )
        if "alert" in pubs:
            pubs["alert"].publish(alert)
        if "dispenser" in pubs:
            nan_phase = "dispenser_nan" in kinds and sent[0] % 2 == 0
            pubs["dispenser"].publish(
                DispenserState(
                    time=now(),
                    guid="nan_dispenser" if nan_phase else "dispenser_1",
                    mode=DispenserState.BUSY,
                    request_guid_queue=["req-1"],
                    seconds_remaining=float("nan") if nan_phase else 3.5,
                )
            )
        sent[0] += 1

    node.create_timer(0.1, tick)


if __name__ == "__main__":
    run("fleethub_test_site", setup)
