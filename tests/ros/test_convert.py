"""The conversions from RMF messages (the real generated classes) to the hub's ingest JSON."""

from __future__ import annotations

import base64
import math
from types import SimpleNamespace
from typing import Any

import pytest

pytestmark = pytest.mark.ros

from fleetcore.contract.ingest import IngestType, decode, encode  # noqa: E402
from ros_bridge import convert  # noqa: E402


@pytest.fixture(scope="module")
def msgs() -> SimpleNamespace:
    """The RMF message modules (imported lazily so collection works without ROS)."""
    import rmf_building_map_msgs.msg as building
    import rmf_dispenser_msgs.msg as dispenser
    import rmf_door_msgs.msg as door
    import rmf_fleet_msgs.msg as fleet
    import rmf_ingestor_msgs.msg as ingestor
    import rmf_lift_msgs.msg as lift
    import rmf_task_msgs.msg as task

    return SimpleNamespace(
        building=building,
        dispenser=dispenser,
        door=door,
        fleet=fleet,
        ingestor=ingestor,
        lift=lift,
        task=task,
    )


def robot(msgs: SimpleNamespace, mode: int, battery: float = 50.0, x: float = 1.0) -> Any:
    return msgs.fleet.RobotState(
        name="r1",
        mode=msgs.fleet.RobotMode(mode=mode),
        battery_percent=battery,
        location=msgs.fleet.Location(x=x, y=2.0, yaw=0.25, level_name="L1"),
    )


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        ("MODE_IDLE", "idle"),
        ("MODE_CHARGING", "charging"),
        ("MODE_MOVING", "working"),
        ("MODE_PAUSED", "working"),
        ("MODE_WAITING", "working"),
        ("MODE_EMERGENCY", "error"),
        ("MODE_GOING_HOME", "working"),
        ("MODE_DOCKING", "working"),
        ("MODE_ADAPTER_ERROR", "error"),
        ("MODE_CLEANING", "working"),
    ],
)
def test_robot_mode_maps_to_task_api_status(msgs: SimpleNamespace, mode: str, status: str) -> None:
    value = getattr(msgs.fleet.RobotMode, mode)
    assert (
        convert.fleet_state(msgs.fleet.FleetState(name="f", robots=[robot(msgs, value)]))["robots"][
            "r1"
        ]["status"]
        == status
    )


def test_an_unknown_robot_mode_is_uninitialized(msgs: SimpleNamespace) -> None:
    assert convert.robot_status(999) == "uninitialized"


def test_battery_percent_becomes_a_fraction_clamped_to_one(msgs: SimpleNamespace) -> None:
    fleet = msgs.fleet.FleetState(name="f", robots=[robot(msgs, 0, battery=250.0)])
    assert convert.fleet_state(fleet)["robots"]["r1"]["battery"] == 1.0


def test_a_fleet_state_is_accepted_by_the_hub_contract(msgs: SimpleNamespace) -> None:
    fleet = msgs.fleet.FleetState(name="f", robots=[robot(msgs, 2)])
    decoded = decode(encode(IngestType.FLEET_STATE, convert.fleet_state(fleet)))
    assert decoded.data.robots["r1"].location.map == "L1"


def test_a_non_finite_robot_position_raises(msgs: SimpleNamespace) -> None:
    fleet = msgs.fleet.FleetState(name="f", robots=[robot(msgs, 0, x=math.inf)])
    with pytest.raises(ValueError, match="robot r1 x"):
        convert.fleet_state(fleet)


def test_lift_available_modes_are_a_list_of_ints(msgs: SimpleNamespace) -> None:
    state = msgs.lift.LiftState(lift_name="l", available_modes=[1, 2], current_mode=2)
    data = convert.lift_state(state)
    assert data["available_modes"] == [1, 2]
    assert decode(encode(IngestType.LIFT_STATE, data)).data.current_mode == 2


def test_dispenser_and_ingestor_states_share_one_shape(msgs: SimpleNamespace) -> None:
    fields = dict(guid="g", mode=1, request_guid_queue=["a"], seconds_remaining=2.5)
    assert convert.dispenser_state(
        msgs.dispenser.DispenserState(**fields)
    ) == convert.ingestor_state(msgs.ingestor.IngestorState(**fields))


def test_map_images_become_data_uris_of_their_bytes(msgs: SimpleNamespace) -> None:
    b = msgs.building
    image = b.AffineImage(name="i", encoding="png", scale=0.1, data=b"\x89PNG-bytes")
    site = b.BuildingMap(name="s", levels=[b.Level(name="L1", images=[image])])
    data = convert.building_map(site)["levels"][0]["images"][0]["data"]
    media, payload = data.split(",", 1)
    assert media == "data:image/png;base64"
    assert base64.b64decode(payload) == b"\x89PNG-bytes"
    assert decode(encode(IngestType.BUILDING_MAP, convert.building_map(site))).data.name == "s"


def test_an_api_response_becomes_the_command_response_with_rmf_json(msgs: SimpleNamespace) -> None:
    answer = '{"success": false, "errors": [{"code": 3}]}'
    response = msgs.task.ApiResponse(type=2, request_id="r", json_msg=answer)
    assert convert.command_response(response) == {
        "request_id": "r",
        "success": False,
        "errors": [{"code": 3}],
    }


def test_a_commission_response_succeeds_as_its_commission_does(msgs: SimpleNamespace) -> None:
    answer = '{"commission": {"success": true}, "pending_dispatch_tasks_policy": {"success": true}}'
    response = msgs.task.ApiResponse(type=2, request_id="r", json_msg=answer)
    assert convert.command_response(response)["success"] is True


def test_an_answer_that_is_not_a_json_object_fails_the_command(msgs: SimpleNamespace) -> None:
    response = msgs.task.ApiResponse(type=2, request_id="r", json_msg="[1, NaN]")
    data = convert.command_response(response)
    assert data["success"] is False
    assert "not a JSON object" in data["errors"][0]["detail"]
    assert decode(encode(IngestType.COMMAND_RESPONSE, data)).data.request_id == "r"


def test_beacon_state_is_the_message_field_for_field(msgs: SimpleNamespace) -> None:
    beacon = msgs.fleet.BeaconState(
        id="b", online=True, category="fire", activated=False, level="L1"
    )
    assert convert.beacon_state(beacon) == {
        "id": "b",
        "online": True,
        "category": "fire",
        "activated": False,
        "level": "L1",
    }
