"""Pure conversions from RMF ROS messages to the hub's ingest JSON.

Each function takes one message (duck-typed: anything with the ROS message's
fields, so these import no ROS code and run in the rclpy thread without
touching asyncio) and returns the ``data`` dict of an ingest frame. The
shapes are the ROS message field for field, as rmf-web renders them, except
``fleet_state_update``, which is the RMF task API's fleet_state model
(rmf_api_msgs ``fleet_state.json``/``robot_state.json``) built from a
free_fleet-style ``rmf_fleet_msgs/FleetState``.

Non-finite floats raise :class:`ValueError`: the hub rejects them (JSON has
no NaN), and failing in the bridge's callback makes the fault visible where
it happens (logged and counted) instead of as a rejection far away.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from typing import Any

JsonDict = dict[str, Any]

# rmf_fleet_msgs/RobotMode values (identical in Jazzy and Kilted; Kilted adds 10 and 11).
MODE_IDLE = 0
MODE_CHARGING = 1
MODE_MOVING = 2
MODE_PAUSED = 3
MODE_WAITING = 4
MODE_EMERGENCY = 5
MODE_GOING_HOME = 6
MODE_DOCKING = 7
MODE_ADAPTER_ERROR = 8
MODE_CLEANING = 9
MODE_PERFORMING_ACTION = 10
MODE_ACTION_COMPLETED = 11

ROBOT_STATUS: dict[int, str] = {
    MODE_IDLE: "idle",
    MODE_CHARGING: "charging",
    MODE_MOVING: "working",
    # A paused robot is mid-task but not moving; the task API's status enum has
    # no "paused", and rmf_fleet_adapter reports a robot whose task is paused
    # as still "working" (its task state carries the pause), so do the same.
    MODE_PAUSED: "working",
    MODE_WAITING: "working",
    MODE_EMERGENCY: "error",
    MODE_GOING_HOME: "working",
    MODE_DOCKING: "working",
    MODE_ADAPTER_ERROR: "error",
    MODE_CLEANING: "working",
    MODE_PERFORMING_ACTION: "working",
    # The action finished and the robot awaits its next order: nothing to do.
    MODE_ACTION_COMPLETED: "idle",
}
"""RobotMode.mode → robot_state ``status``; any other value is ``uninitialized``."""


def _finite(value: float, field: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{field} is {number}, not a finite number")
    return number


def ros_time(stamp: Any) -> JsonDict:
    """builtin_interfaces/Time."""
    return {"sec": int(stamp.sec), "nanosec": int(stamp.nanosec)}


def unix_millis(stamp: Any) -> int:
    """builtin_interfaces/Time as Unix milliseconds, never negative."""
    return max(0, int(stamp.sec) * 1000 + int(stamp.nanosec) // 1_000_000)


def door_state(msg: Any) -> JsonDict:
    """rmf_door_msgs/DoorState."""
    return {
        "door_time": ros_time(msg.door_time),
        "door_name": msg.door_name,
        "current_mode": {"value": int(msg.current_mode.value)},
    }


def lift_state(msg: Any) -> JsonDict:
    """rmf_lift_msgs/LiftState."""
    return {
        "lift_time": ros_time(msg.lift_time),
        "lift_name": msg.lift_name,
        "available_floors": list(msg.available_floors),
        "current_floor": msg.current_floor,
        "destination_floor": msg.destination_floor,
        "door_state": int(msg.door_state),
        "motion_state": int(msg.motion_state),
        # uint8[] arrives as bytes or an array of ints depending on the distro.
        "available_modes": [int(m) for m in msg.available_modes],
        "current_mode": int(msg.current_mode),
        "session_id": msg.session_id,
    }


def dispenser_state(msg: Any) -> JsonDict:
    """rmf_dispenser_msgs/DispenserState (rmf_ingestor_msgs/IngestorState has the same fields)."""
    return {
        "time": ros_time(msg.time),
        "guid": msg.guid,
        "mode": int(msg.mode),
        "request_guid_queue": list(msg.request_guid_queue),
        "seconds_remaining": _finite(msg.seconds_remaining, "seconds_remaining"),
    }


ingestor_state = dispenser_state


def _param(p: Any) -> JsonDict:
    return {
        "name": p.name,
        "type": int(p.type),
        "value_int": int(p.value_int),
        "value_float": _finite(p.value_float, f"param {p.name}"),
        "value_string": p.value_string,
        "value_bool": bool(p.value_bool),
    }


def _params(params: Iterable[Any]) -> list[JsonDict]:
    return [_param(p) for p in params]


def _graph(g: Any) -> JsonDict:
    return {
        "name": g.name,
        "vertices": [
            {
                "x": _finite(v.x, "vertex x"),
                "y": _finite(v.y, "vertex y"),
                "name": v.name,
                "params": _params(v.params),
            }
            for v in g.vertices
        ],
        "edges": [
            {
                "v1_idx": int(e.v1_idx),
                "v2_idx": int(e.v2_idx),
                "params": _params(e.params),
                "edge_type": int(e.edge_type),
            }
            for e in g.edges
        ],
        "params": _params(g.params),
    }


def _door(d: Any) -> JsonDict:
    return {
        "name": d.name,
        "v1_x": _finite(d.v1_x, f"door {d.name} v1_x"),
        "v1_y": _finite(d.v1_y, f"door {d.name} v1_y"),
        "v2_x": _finite(d.v2_x, f"door {d.name} v2_x"),
        "v2_y": _finite(d.v2_y, f"door {d.name} v2_y"),
        "door_type": int(d.door_type),
        "motion_range": _finite(d.motion_range, f"door {d.name} motion_range"),
        "motion_direction": int(d.motion_direction),
    }


def image_data_uri(encoding: str, data: bytes | Iterable[int]) -> str:
    """An image as a ``data:`` URI; the hub stores the bytes and swaps in a URL."""
    raw = data if isinstance(data, bytes) else bytes(data)
    subtype = (encoding or "octet-stream").lower()
    media = "application/octet-stream" if subtype == "octet-stream" else f"image/{subtype}"
    return f"data:{media};base64,{base64.b64encode(raw).decode()}"


def _image(i: Any) -> JsonDict:
    return {
        "name": i.name,
        "x_offset": _finite(i.x_offset, "image x_offset"),
        "y_offset": _finite(i.y_offset, "image y_offset"),
        "yaw": _finite(i.yaw, "image yaw"),
        "scale": _finite(i.scale, "image scale"),
        "encoding": i.encoding,
        "data": image_data_uri(i.encoding, i.data),
    }


def _level(lv: Any) -> JsonDict:
    return {
        "name": lv.name,
        "elevation": _finite(lv.elevation, f"level {lv.name} elevation"),
        "images": [_image(i) for i in lv.images],
        "places": [
            {
                "name": p.name,
                "x": _finite(p.x, "place x"),
                "y": _finite(p.y, "place y"),
                "yaw": _finite(p.yaw, "place yaw"),
                "position_tolerance": _finite(p.position_tolerance, "place position_tolerance"),
                "yaw_tolerance": _finite(p.yaw_tolerance, "place yaw_tolerance"),
            }
            for p in lv.places
        ],
        "doors": [_door(d) for d in lv.doors],
        "nav_graphs": [_graph(g) for g in lv.nav_graphs],
        "wall_graph": _graph(lv.wall_graph),
    }


def _lift(lf: Any) -> JsonDict:
    return {
        "name": lf.name,
        "levels": list(lf.levels),
        "doors": [_door(d) for d in lf.doors],
        "wall_graph": _graph(lf.wall_graph),
        "ref_x": _finite(lf.ref_x, f"lift {lf.name} ref_x"),
        "ref_y": _finite(lf.ref_y, f"lift {lf.name} ref_y"),
        "ref_yaw": _finite(lf.ref_yaw, f"lift {lf.name} ref_yaw"),
        "width": _finite(lf.width, f"lift {lf.name} width"),
        "depth": _finite(lf.depth, f"lift {lf.name} depth"),
    }


def building_map(msg: Any) -> JsonDict:
    """rmf_building_map_msgs/BuildingMap, images inlined as ``data:`` URIs."""
    return {
        "name": msg.name,
        "levels": [_level(lv) for lv in msg.levels],
        "lifts": [_lift(lf) for lf in msg.lifts],
    }


def robot_status(mode: int) -> str:
    """The task API's robot ``status`` for an rmf_fleet_msgs/RobotMode value."""
    return ROBOT_STATUS.get(int(mode), "uninitialized")


def _robot(r: Any) -> JsonDict:
    loc = r.location
    return {
        "name": r.name,
        "status": robot_status(r.mode.mode),
        "task_id": r.task_id,
        "unix_millis_time": unix_millis(loc.t),
        "location": {
            "map": loc.level_name,
            "x": _finite(loc.x, f"robot {r.name} x"),
            "y": _finite(loc.y, f"robot {r.name} y"),
            "yaw": _finite(loc.yaw, f"robot {r.name} yaw"),
        },
        # RobotState.battery_percent is 0..100; the task API's battery is 0..1.
        "battery": min(1.0, max(0.0, _finite(r.battery_percent, f"robot {r.name} battery") / 100)),
        "issues": [],
    }


def fleet_state(msg: Any) -> JsonDict:
    """rmf_fleet_msgs/FleetState as the task API's fleet_state (robots keyed by name)."""
    return {"name": msg.name, "robots": {r.name: _robot(r) for r in msg.robots}}


def beacon_state(msg: Any) -> JsonDict:
    """rmf_fleet_msgs/BeaconState."""
    return {
        "id": msg.id,
        "online": bool(msg.online),
        "category": msg.category,
        "activated": bool(msg.activated),
        "level": msg.level,
    }


DELIVERY_ALERT_CATEGORIES = ("missing", "wrong", "obstructed", "cancelled")
DELIVERY_ALERT_TIERS = ("warning", "error")
DELIVERY_ALERT_ACTIONS = ("waiting", "cancel", "override", "resume")
"""rmf_fleet_msgs/DeliveryAlert{Category,Tier,Action} values, indexed by their numbers."""


def delivery_alert(msg: Any) -> JsonDict:
    """rmf_fleet_msgs/DeliveryAlert, its enums named as rmf-web names them."""
    return {
        "id": msg.id,
        "category": DELIVERY_ALERT_CATEGORIES[msg.category.value],
        "tier": DELIVERY_ALERT_TIERS[msg.tier.value],
        "action": DELIVERY_ALERT_ACTIONS[msg.action.value],
        "task_id": msg.task_id,
        "message": msg.message,
    }


def fire_alarm_trigger(msg: Any) -> JsonDict:
    """std_msgs/Bool on ``fire_alarm_trigger``."""
    return {"trigger": bool(msg.data)}


def _alert_parameter(p: Any) -> JsonDict:
    return {"name": p.name, "value": p.value}


def alert(msg: Any) -> JsonDict:
    """rmf_task_msgs/Alert (Kilted and later)."""
    return {
        "id": msg.id,
        "title": msg.title,
        "subtitle": msg.subtitle,
        "message": msg.message,
        "display": bool(msg.display),
        "tier": int(msg.tier),
        "responses_available": list(msg.responses_available),
        "alert_parameters": [_alert_parameter(p) for p in msg.alert_parameters],
        "task_id": msg.task_id,
    }


def alert_response(msg: Any) -> JsonDict:
    """rmf_task_msgs/AlertResponse (Kilted and later)."""
    return {"id": msg.id, "response": msg.response}


def command_response(msg: Any) -> JsonDict:
    """rmf_task_msgs/ApiResponse as the hub's ``command_response``: RMF's JSON, with its request_id.

    The hub reads ``success``; rmf_api_msgs responses that have none say it
    elsewhere (robot_commission_response in ``commission``) or by their
    ``errors``, and a task_discovery_update is a success by being sent. An
    answer that is not a JSON object fails the command, naming what came,
    rather than leaving it pending forever.
    """
    try:
        doc = json.loads(msg.json_msg, parse_constant=_not_finite)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        detail = f"RMF answered with something that is not a JSON object: {msg.json_msg[:200]!r}"
        doc = {"success": False, "errors": [{"code": 1, "category": "json", "detail": detail}]}
    return {**doc, "request_id": msg.request_id, "success": _succeeded(doc)}


def _not_finite(token: str) -> float:
    raise ValueError(f"{token} is not a finite JSON number")


def _succeeded(doc: JsonDict) -> bool:
    if isinstance(doc.get("success"), bool):
        return bool(doc["success"])
    commission = doc.get("commission")
    if isinstance(commission, dict) and isinstance(commission.get("success"), bool):
        return bool(commission["success"])
    return not doc.get("errors")
