"""The simulator's fleet, door and lift states published over ROS 2 (``FLEETHUB_SIM_ROS``).

A real site reports these on RMF's topics, not on ``/_internal``: doors and
lifts through their supervisors, fleets without a task-API fleet adapter
(free_fleet) as ``rmf_fleet_msgs/FleetState``. Publishing them here lets the
demo run through a ros_bridge exactly as such a site would, while task
states and logs keep the fleet-adapter websocket they use at a real site.

Only publishers: nothing needs spinning, so no executor thread. rclpy is
imported when the publisher starts (it is an optional extra).
"""

from __future__ import annotations

from typing import Any

from fleetcore.contract.ingest import IngestType
from fleetcore.log import sim_logger
from simulator.devices import ros_time

FLEET_STATES = "fleet_states"
DOOR_STATES = "door_states"
LIFT_STATES = "lift_states"

ROBOT_MODE: dict[str, int] = {"idle": 0, "charging": 1, "working": 2, "error": 8}
"""The task API's robot status as rmf_fleet_msgs/RobotMode (working: moving; error:
adapter error); ros_bridge maps them back. Any other status is reported as an error."""
MODE_ADAPTER_ERROR = 8

ROS_TYPES = frozenset({IngestType.FLEET_STATE, IngestType.DOOR_STATE, IngestType.LIFT_STATE})
"""What the simulator publishes over ROS 2 instead of /_internal."""


class RosSitePublisher:
    """Publishes state dicts of the simulation as RMF's ROS messages on RMF's topics and QoS."""

    def __init__(self, node_name: str = "fleethub_sim") -> None:
        from ros_bridge.available import require_ros

        require_ros("FLEETHUB_SIM_ROS=true")
        self._node_name = node_name
        self._context: Any = None
        self._node: Any = None
        self._publishers: dict[IngestType, Any] = {}
        self._seq = 0

    def start(self) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.node import Node
        from rmf_door_msgs.msg import DoorState
        from rmf_fleet_msgs.msg import FleetState
        from rmf_lift_msgs.msg import LiftState

        from ros_bridge.routes import STATE_QOS

        self._context = Context()
        rclpy.init(context=self._context)
        self._node = Node(self._node_name, context=self._context)
        self._publishers = {
            IngestType.FLEET_STATE: self._node.create_publisher(
                FleetState, FLEET_STATES, STATE_QOS
            ),
            IngestType.DOOR_STATE: self._node.create_publisher(DoorState, DOOR_STATES, STATE_QOS),
            IngestType.LIFT_STATE: self._node.create_publisher(LiftState, LIFT_STATES, STATE_QOS),
        }
        sim_logger.info("publishing fleet, door and lift states over ROS 2")

    def close(self) -> None:
        if self._node is not None:
            self._node.destroy_node()
            self._node = None
        if self._context is not None:
            self._context.try_shutdown()
            self._context = None

    def publish(self, kind: IngestType, data: dict[str, Any]) -> None:
        """Publish one state of a kind in :data:`ROS_TYPES`."""
        if kind is IngestType.FLEET_STATE:
            message = self._fleet_state(data)
        elif kind is IngestType.DOOR_STATE:
            message = door_state(data)
        else:
            message = lift_state(data)
        self._publishers[kind].publish(message)

    def _fleet_state(self, data: dict[str, Any]) -> Any:
        from rmf_fleet_msgs.msg import FleetState

        self._seq += 1
        robots = [robot_state(robot, self._seq) for robot in data["robots"].values()]
        return FleetState(name=data["name"], robots=robots)


def robot_state(robot: dict[str, Any], seq: int) -> Any:
    """A robot_state (task API JSON) as rmf_fleet_msgs/RobotState, as free_fleet reports one."""
    from rmf_fleet_msgs.msg import Location, RobotMode, RobotState

    where = robot["location"]
    return RobotState(
        name=robot["name"],
        task_id=robot.get("task_id") or "",
        seq=seq,
        mode=RobotMode(mode=ROBOT_MODE.get(robot["status"], MODE_ADAPTER_ERROR)),
        battery_percent=float(robot["battery"]) * 100,
        location=Location(
            t=_ros_time(ros_time(robot["unix_millis_time"])),
            x=float(where["x"]),
            y=float(where["y"]),
            yaw=float(where["yaw"]),
            level_name=where["map"],
        ),
    )


def _ros_time(stamp: dict[str, int]) -> Any:
    from builtin_interfaces.msg import Time

    return Time(sec=stamp["sec"], nanosec=stamp["nanosec"])


def door_state(data: dict[str, Any]) -> Any:
    from rmf_door_msgs.msg import DoorMode, DoorState

    return DoorState(
        door_time=_ros_time(data["door_time"]),
        door_name=data["door_name"],
        current_mode=DoorMode(value=data["current_mode"]["value"]),
    )


def lift_state(data: dict[str, Any]) -> Any:
    from rmf_lift_msgs.msg import LiftState

    return LiftState(
        lift_time=_ros_time(data["lift_time"]),
        lift_name=data["lift_name"],
        available_floors=data["available_floors"],
        current_floor=data["current_floor"],
        destination_floor=data["destination_floor"],
        door_state=data["door_state"],
        motion_state=data["motion_state"],
        available_modes=data["available_modes"],
        current_mode=data["current_mode"],
        session_id=data["session_id"],
    )
