"""Room names resolve to templates and kinds; anything else is refused."""

from __future__ import annotations

import pytest

from fleetcore.contract.rooms import FLEET_STATE, TASK_LOG, RoomKind, match_room
from fleetcore.errors import UnknownRoom


@pytest.mark.parametrize(
    ("room", "kind", "params"),
    [
        ("/building_map", RoomKind.STATE, {}),
        ("/doors/main_door/state", RoomKind.STATE, {"name": "main_door"}),
        ("/lifts/lift1/state", RoomKind.STATE, {"name": "lift1"}),
        ("/dispensers/coke/state", RoomKind.STATE, {"guid": "coke"}),
        ("/ingestors/bin/state", RoomKind.STATE, {"guid": "bin"}),
        ("/fleets/tinyRobot/state", RoomKind.STATE, {"name": "tinyRobot"}),
        ("/fleets/tinyRobot/log", RoomKind.LOG, {"name": "tinyRobot"}),
        ("/tasks/t-1/state", RoomKind.STATE, {"task_id": "t-1"}),
        ("/tasks/t-1/log", RoomKind.LOG, {"task_id": "t-1"}),
        ("/alerts/requests", RoomKind.LOG, {}),
        ("/alerts/responses", RoomKind.LOG, {}),
        ("/beacons", RoomKind.LOG, {}),
        ("/events", RoomKind.LOG, {}),
    ],
)
def test_rmf_web_room_names_resolve(room: str, kind: RoomKind, params: dict[str, str]) -> None:
    match = match_room(room)
    assert match.kind is kind
    assert match.params == params
    assert match.room == room


def test_parameters_are_percent_decoded_and_the_room_is_canonical() -> None:
    match = match_room("/tasks/a%2Fb/state")
    assert match.params == {"task_id": "a/b"}
    assert match.room == TASK_LOG.format(task_id="a/b").replace("/log", "/state")


def test_format_escapes_slashes_so_a_name_cannot_change_the_room() -> None:
    assert FLEET_STATE.format(name="x/log") == "/fleets/x%2Flog/state"


@pytest.mark.parametrize(
    "room",
    [
        "",
        "fleets",
        "/fleets//state",
        "/fleets/a/b/state",
        "/unknown",
        "/tasks/x",
        None,
        7,
        "/x" * 400,
    ],
)
def test_anything_else_is_an_unknown_room(room: object) -> None:
    with pytest.raises(UnknownRoom):
        match_room(room)
