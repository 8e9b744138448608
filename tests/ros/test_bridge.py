"""The bridge over real DDS: a site process publishes, the bridge's sink receives the ingest JSON."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.ros.conftest import RecordingSink, RosProcess

pytestmark = [pytest.mark.ros, pytest.mark.integration]

Start = Callable[..., RosProcess]


def _stamp(t: dict[str, int]) -> float:
    return t["sec"] + t["nanosec"] / 1e9


async def published(
    ros_process: Start, sink: RecordingSink, kind: str, type_: str
) -> tuple[float, dict[str, Any]]:
    """Start a site publishing ``kind``; the arrival time and data of the first ``type_``."""
    ros_process("publish_site.py", kind)
    arrived, message = await sink.wait_for(lambda m: m["type"] == type_)
    return arrived, message["data"]


async def test_door_state_arrives_field_for_field_within_one_second(
    bridge: Any, sink: RecordingSink, ros_process: Start
) -> None:
    arrived, door = await published(ros_process, sink, "door", "door_state_update")
    assert door["door_name"] == "door_a"
    assert door["current_mode"] == {"value": 2}
    assert set(door["door_time"]) == {"sec", "nanosec"}
    assert arrived - _stamp(door["door_time"]) < 1.0


async def test_lift_state_arrives_field_for_field_within_one_second(
    bridge: Any, sink: RecordingSink, ros_process: Start
) -> None:
    arrived, lift = await published(ros_process, sink, "lift", "lift_state_update")
    assert {k: v for k, v in lift.items() if k != "lift_time"} == {
        "lift_name": "lift_1",
        "available_floors": ["L1", "L2"],
        "current_floor": "L1",
        "destination_floor": "L2",
        "door_state": 0,
        "motion_state": 1,
        "available_modes": [1, 2],
        "current_mode": 2,
        "session_id": "session-1",
    }
    assert arrived - _stamp(lift["lift_time"]) < 1.0


async def test_fleet_state_arrives_as_the_task_api_fleet_state_within_one_second(
    bridge: Any, sink: RecordingSink, ros_process: Start
) -> None:
    arrived, fleet = await published(ros_process, sink, "fleet", "fleet_state_update")
    assert fleet["name"] == "tinyRobot"
    assert sorted(fleet["robots"]) == ["bot0", "bot1"]
    bot1 = fleet["robots"]["bot1"]
    assert bot1["status"] == "working"
    assert bot1["task_id"] == "task-7"
    assert bot1["battery"] == pytest.approx(0.555)
    assert bot1["location"] == {"map": "L1", "x": 1.0, "y": 2.5, "yaw": pytest.approx(0.5)}
    assert bot1["issues"] == []
    assert fleet["robots"]["bot0"]["status"] == "idle"
    assert arrived - bot1["unix_millis_time"] / 1000 < 1.0


async def test_building_map_arrives_with_its_image_as_a_data_uri(
    bridge: Any, sink: RecordingSink, ros_process: Start
) -> None:
    _, site = await published(ros_process, sink, "map", "building_map_update")
    assert site["name"] == "test_site"
    (level,) = site["levels"]
    (image,) = level["images"]
    prefix = "data:image/png;base64,"
    assert image["data"].startswith(prefix)
    assert base64.b64decode(image["data"][len(prefix) :]).startswith(b"\x89PNG\r\n\x1a\n")
    assert image["scale"] == pytest.approx(0.05)
    assert level["doors"][0]["name"] == "door_a"
    pantry = level["nav_graphs"][0]["vertices"][0]
    assert pantry["name"] == "pantry"
    assert pantry["params"][0]["name"] == "is_charger"
    assert pantry["params"][0]["value_bool"] is True


async def test_a_bridge_that_joins_after_the_map_was_published_still_gets_it(
    bridge: Any, sink: RecordingSink, ros_process: Start
) -> None:
    from ros_bridge.bridge import RosBridge

    ros_process("publish_site.py", "map")
    await sink.wait_for(lambda m: m["type"] == "building_map_update")
    late_sink = RecordingSink()
    async with RosBridge(late_sink):
        _, message = await late_sink.wait_for(lambda m: m["type"] == "building_map_update")
    assert message["data"]["name"] == "test_site"


async def test_a_message_whose_conversion_raises_is_counted_and_the_node_keeps_spinning(
    bridge: Any, sink: RecordingSink, ros_process: Start
) -> None:
    # The site alternates a NaN state (whose conversion raises) with a valid one.
    ros_process("publish_site.py", "dispenser_nan")
    errors = bridge.stats.callback_errors
    await sink.wait_for(
        lambda m: m["type"] == "dispenser_state_update" and errors["dispenser_states"]
    )
    failed, forwarded = errors["dispenser_states"], len(sink.of_type("dispenser_state_update"))
    # Later messages of both kinds are still handled: the node kept spinning.
    await sink.wait_for(
        lambda m: len(sink.of_type("dispenser_state_update")) > forwarded + 2, timeout=5
    )
    assert errors["dispenser_states"] > failed
    assert {d["guid"] for d in sink.of_type("dispenser_state_update")} == {"dispenser_1"}


async def test_only_the_first_final_answer_to_our_own_task_request_becomes_a_command_response(
    bridge: Any, sink: RecordingSink, ros_process: Start
) -> None:
    responder = ros_process("task_responder.py")
    assert await responder.readline() == "ready"
    request = {"type": "dispatch_task_request", "request": {"category": "patrol"}}
    bridge.publish_task_request("req-1", json.dumps(request))
    assert json.loads((await responder.readline()).split(" ", 2)[2]) == request
    _, message = await sink.wait_for(lambda m: m["type"] == "command_response")
    assert message["data"] == {
        "request_id": "req-1",
        "success": True,
        "state": {"booking": {"id": "task-for-req-1"}},
    }
    stats = bridge.responses.stats
    await sink.wait_for(lambda m: stats.duplicate >= 1 and stats.unknown >= 1, timeout=5)
    assert stats.acknowledged == 1
    assert len(sink.of_type("command_response")) == 1


async def test_door_and_lift_requests_reach_rmf_supervisors(
    bridge: Any, sink: RecordingSink, ros_process: Start
) -> None:
    listener = ros_process("listen_requests.py")
    assert await listener.readline() == "ready"
    # The listener's subscriptions are volatile: publish until discovery matched them.
    await _until_matched(bridge, "adapter_door_requests")
    await _until_matched(bridge, "adapter_lift_requests")
    bridge.publish_door_request("door_a", 2, "fleethub")
    bridge.publish_lift_request("lift_1", "L2", 1, 2, "fleethub")
    lines = [json.loads(await listener.readline()) for _ in range(2)]
    assert {"door_name": "door_a", "mode": 2, "requester_id": "fleethub"} in lines
    assert {"lift_name": "lift_1", "destination_floor": "L2", "session_id": "fleethub"} in lines


async def _until_matched(bridge: Any, topic: str, timeout: float = 15.0) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while bridge.node.count_subscribers(topic) == 0:
        assert time.monotonic() < deadline, f"no subscriber matched {topic} within {timeout}s"
        await asyncio.sleep(0.05)


def command(request_id: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "command", "data": {"request_id": request_id, "kind": kind, "body": body}}


async def test_a_command_of_a_kind_the_bridge_does_not_take_is_answered_failed_at_once(
    bridge: Any, sink: RecordingSink
) -> None:
    from ros_bridge.commands import BridgeCommands

    await BridgeCommands(bridge, sink.submit).on_frame(command("r-1", "teleport", {}))
    _, message = await sink.wait_for(lambda m: m["type"] == "command_response")
    assert message["data"]["request_id"] == "r-1"
    assert message["data"]["success"] is False
    assert "teleport" in message["data"]["errors"][0]["detail"]


async def test_a_task_request_sent_again_under_its_request_id_is_not_published_twice(
    bridge: Any, sink: RecordingSink, ros_process: Start
) -> None:
    from ros_bridge.commands import BridgeCommands

    responder = ros_process("task_responder.py")
    assert await responder.readline() == "ready"
    commands = BridgeCommands(bridge, sink.submit)
    cancel = {"type": "cancel_task_request", "task_id": "t-1"}
    await commands.on_frame(command("r-2", "cancel_task", cancel))
    await commands.on_frame(command("r-2", "cancel_task", cancel))
    assert json.loads((await responder.readline()).split(" ", 2)[2]) == cancel
    await sink.wait_for(lambda m: m["type"] == "command_response")
    assert commands.stats.task_requests == 1
    assert commands.stats.repeated == 1


async def test_an_operators_alert_response_is_published_where_the_interfaces_have_alerts(
    bridge: Any, sink: RecordingSink
) -> None:
    import rmf_task_msgs.msg

    from ros_bridge.commands import BridgeCommands

    commands = BridgeCommands(bridge, sink.submit)
    await commands.on_frame({"type": "alert_response", "data": {"id": "a-1", "response": "ok"}})
    if hasattr(rmf_task_msgs.msg, "AlertResponse"):
        assert (commands.stats.alert_responses, commands.stats.alert_responses_unsupported) == (
            1,
            0,
        )
    else:  # Jazzy: RMF has no alerts to answer; counted, nothing raised
        assert (commands.stats.alert_responses, commands.stats.alert_responses_unsupported) == (
            0,
            1,
        )


async def test_rmfs_fire_alarm_and_delivery_alerts_arrive_as_rmf_web_shows_them(
    bridge: Any, sink: RecordingSink, ros_process: Start
) -> None:
    ros_process("publish_site.py", "fire_alarm", "delivery_alert")

    _, fire = await sink.wait_for(lambda m: m["type"] == "fire_alarm_trigger_update")
    _, delivery = await sink.wait_for(lambda m: m["type"] == "delivery_alert_update")

    assert fire["data"] == {"trigger": True}
    assert delivery["data"] == {
        "id": "delivery-1",
        "category": "wrong",
        "tier": "error",
        "action": "waiting",
        "task_id": "task-7",
        "message": "wrong item",
    }


async def test_a_fire_alarm_reset_a_delivery_alert_response_and_a_mutex_release_reach_rmf(
    bridge: Any, sink: RecordingSink, ros_process: Start
) -> None:
    from ros_bridge.commands import BridgeCommands

    listener = ros_process("listen_requests.py")
    assert await listener.readline() == "ready"
    for topic in ("fire_alarm_trigger", "delivery_alert_response", "mutex_group_manual_release"):
        await _until_matched(bridge, topic)
    commands = BridgeCommands(bridge, sink.submit)
    alert = {
        "id": "delivery-1",
        "category": "missing",
        "tier": "warning",
        "action": "resume",
        "task_id": "task-7",
        "message": "",
    }
    release = {"fleet": "f", "robot": "r1", "mutex_group": "corridor"}

    await commands.on_frame(command("c-1", "reset_fire_alarm_trigger", {}))
    await commands.on_frame(command("c-2", "delivery_alert_response", alert))
    await commands.on_frame(command("c-3", "unlock_mutex_group", release))

    lines = [json.loads(await listener.readline()) for _ in range(3)]
    assert {"fire_alarm_trigger": False} in lines
    assert {"delivery_alert": "delivery-1", "action": 3} in lines
    assert {"release": ["corridor"], "robot": "r1"} in lines
    answers = {m["request_id"]: m["success"] for m in sink.of_type("command_response")}
    assert answers == {"c-1": True, "c-2": True, "c-3": True}
