"""Every ingest field that becomes a room, a key or a column is bounded in the store's units.

A value at its limit is accepted and what it becomes fits its room and its
columns; one byte more is refused as ``invalid_field`` naming the field and
the byte limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from tortoise import fields

from fleetcore.contract import rooms
from fleetcore.contract.commands import key_problem
from fleetcore.contract.ingest import Reason, decode
from fleetcore.contract.limits import (
    COMMAND_KEY_BYTES,
    LABEL_NAME_BYTES,
    LOG_SCOPE_BYTES,
    NAME_BYTES,
    TEXT_BYTES,
)
from fleetcore.contract.rooms import MAX_ROOM_LENGTH, match_room
from fleetcore.errors import IngestRejected, UnknownRoom
from fleetcore.store import models
from hub.changes import changes_for

Build = Callable[[str], tuple[str, dict[str, Any]]]


def fleet_state(name: str = "f", robot: str = "r", **state: Any) -> dict[str, Any]:
    return {"name": name, "robots": {robot: {"name": "r", **state}}}


def task_state(task_id: str = "t", **fields_: Any) -> dict[str, Any]:
    booking = {"id": task_id, **fields_.pop("booking", {})}
    return {"booking": booking, **fields_}


def task_log(task_id: str = "t", phase: str = "1", event: str = "2") -> dict[str, Any]:
    entry = {"seq": 0, "tier": "info", "unix_millis_time": 1, "text": "x"}
    return {"task_id": task_id, "phases": {phase: {"events": {event: [entry]}}}}


@dataclass(frozen=True)
class Field:
    path: str
    build: Build
    bytes: int
    """The field's limit in UTF-8 bytes."""
    room: rooms.RoomTemplate | None = None
    """The room it names, whose limit counts percent-encoded bytes."""


def room_field(path: str, kind: str, key: str, room: rooms.RoomTemplate) -> Field:
    extra = {"current_mode": {"value": 0}} if kind == "door_state_update" else {}
    return Field(f"data.{path}", lambda v: (kind, {key: v, **extra}), NAME_BYTES, room)


FIELDS = [
    room_field("door_name", "door_state_update", "door_name", rooms.DOOR_STATE),
    room_field("lift_name", "lift_state_update", "lift_name", rooms.LIFT_STATE),
    room_field("guid", "dispenser_state_update", "guid", rooms.DISPENSER_STATE),
    room_field("guid", "ingestor_state_update", "guid", rooms.INGESTOR_STATE),
    room_field("id", "beacon_state_update", "id", rooms.BEACON_STATE),
    Field(
        "data.name",
        lambda v: ("fleet_state_update", fleet_state(name=v)),
        NAME_BYTES,
        rooms.FLEET_STATE,
    ),
    Field(
        "data.name",
        lambda v: ("fleet_log_update", {"name": v}),
        NAME_BYTES,
        rooms.FLEET_STATE,
    ),
    Field(
        "data.booking.id",
        lambda v: ("task_state_update", task_state(v)),
        NAME_BYTES,
        rooms.TASK_STATE,
    ),
    Field("data.task_id", lambda v: ("task_log_update", task_log(v)), NAME_BYTES, rooms.TASK_STATE),
    Field("data.robots.", lambda v: ("fleet_state_update", fleet_state(robot=v)), NAME_BYTES),
    Field(
        "data.robots.r.location.map",
        lambda v: (
            "fleet_state_update",
            fleet_state(location={"map": v, "x": 0, "y": 0, "yaw": 0}, status="idle"),
        ),
        NAME_BYTES,
    ),
    Field(
        "data.robots.r.task_id",
        lambda v: ("fleet_state_update", fleet_state(task_id=v)),
        NAME_BYTES,
    ),
    Field(
        "data.robots.",
        lambda v: (
            "fleet_log_update",
            {
                "name": "f",
                "robots": {v: [{"seq": 0, "tier": "info", "unix_millis_time": 1, "text": ""}]},
            },
        ),
        NAME_BYTES,
    ),
    Field("data.category", lambda v: ("task_state_update", task_state(category=v)), NAME_BYTES),
    Field(
        "data.assigned_to.name",
        lambda v: ("task_state_update", task_state(assigned_to={"group": "g", "name": v})),
        NAME_BYTES,
    ),
    Field(
        "data.assigned_to.group",
        lambda v: ("task_state_update", task_state(assigned_to={"group": v, "name": "r"})),
        NAME_BYTES,
    ),
    Field(
        "data.booking.requester",
        lambda v: ("task_state_update", task_state(booking={"requester": v})),
        TEXT_BYTES,
    ),
    Field(
        "data.booking.labels.0",
        lambda v: ("task_state_update", task_state(booking={"labels": [v]})),
        LABEL_NAME_BYTES,
    ),
    Field(
        "data.booking.labels.0",
        lambda v: ("task_state_update", task_state(booking={"labels": ["k=" + v]})),
        TEXT_BYTES,
    ),
    Field("data.phases.", lambda v: ("task_log_update", task_log(phase=v)), LOG_SCOPE_BYTES),
    Field(
        "data.phases.1.events.",
        lambda v: ("task_log_update", task_log(event=v)),
        LOG_SCOPE_BYTES,
    ),
    Field("data.id", lambda v: ("alert_update", {"id": v}), NAME_BYTES),
    Field("data.task_id", lambda v: ("alert_update", {"id": "a", "task_id": v}), NAME_BYTES),
    Field("data.id", lambda v: ("alert_response_update", {"id": v, "response": "ok"}), NAME_BYTES),
    Field(
        "data.response",
        lambda v: ("alert_response_update", {"id": "a", "response": v}),
        NAME_BYTES,
    ),
]
IDS = [f"{f.build('x')[0]}:{f.path}" for f in FIELDS]


def largest(field: Field) -> str:
    """The longest value of two-byte characters the field takes (each six bytes percent-encoded)."""
    count = field.bytes // 2
    if field.room is not None:
        count = min(count, field.room.max_param_bytes // 6)
    return "é" * count


def refused(raw: str) -> IngestRejected:
    with pytest.raises(IngestRejected) as caught:
        decode(raw)
    return caught.value


def raw(field: Field, value: str) -> str:
    kind, data = field.build(value)
    return json.dumps({"type": kind, "data": data})


def column_widths(model_name: str) -> dict[str, int]:
    meta = getattr(models, model_name)._meta
    return {
        name: field.max_length
        for name, field in meta.fields_map.items()
        if isinstance(field, fields.CharField)
    }


def assert_storable(message_raw: str) -> None:
    """What the hub makes of the message names rooms that exist and fits every column."""
    change = changes_for(decode(message_raw), 1_700_000_000_000)
    for publication in change.publications:
        assert match_room(publication.room).room == publication.room
        assert len(publication.room) <= MAX_ROOM_LENGTH
    for row in change.rows:
        widths = column_widths(row.model)
        for column, value in row.values.items():
            if isinstance(value, str) and column in widths:
                assert len(value.encode()) <= widths[column], (row.model, column)


@pytest.mark.parametrize("field", FIELDS, ids=IDS)
def test_a_value_at_the_limit_is_accepted_and_fits_its_room_and_columns(field: Field) -> None:
    assert_storable(raw(field, largest(field)))


@pytest.mark.parametrize("field", FIELDS, ids=IDS)
def test_one_character_more_is_refused_naming_the_field_and_the_byte_limit(field: Field) -> None:
    rejection = refused(raw(field, largest(field) + "é"))
    assert rejection.reason == Reason.INVALID_FIELD
    assert rejection.detail.startswith(field.path)
    limit = field.bytes if field.room is None else field.room.max_param_bytes
    assert f"{limit}-byte limit" in rejection.detail


@pytest.mark.parametrize("field", FIELDS, ids=IDS)
def test_a_nul_character_is_refused_as_the_database_cannot_store_it(field: Field) -> None:
    rejection = refused(raw(field, "a\x00b"))
    assert rejection.reason == Reason.INVALID_FIELD
    assert "U+0000" in rejection.detail


def test_a_door_named_by_sixty_emoji_is_refused_with_its_room_limit() -> None:
    rejection = refused(raw(FIELDS[0], "😀" * 60))
    assert rejection.detail == (
        "data.door_name: 720 bytes percent-encoded, over the 499-byte limit "
        "of its room /doors/{name}/state"
    )


def test_a_log_line_with_nul_is_refused() -> None:
    frame = {
        "type": "fleet_log_update",
        "data": {
            "name": "f",
            "log": [{"seq": 0, "tier": "info", "unix_millis_time": 1, "text": "\x00"}],
        },
    }
    assert refused(json.dumps(frame)).detail.startswith("data.log.0.text: contains U+0000")


def test_a_map_image_whose_content_type_overflows_its_column_is_refused() -> None:
    image = {"name": "L1", "data": "data:" + "x" * 200 + ";base64,AAAA"}
    message = decode(
        json.dumps(
            {
                "type": "building_map_update",
                "data": {"name": "m", "levels": [{"name": "L1", "images": [image]}]},
            }
        )
    )
    with pytest.raises(IngestRejected, match="content type: 200 bytes"):
        changes_for(message, 1)


def test_a_subscribed_room_is_measured_once_percent_encoded() -> None:
    with pytest.raises(UnknownRoom, match="once percent-encoded"):
        match_room("/doors/" + "é" * 100 + "/state")
    assert match_room("/doors/" + "é" * 83 + "/state").params == {"name": "é" * 83}


@pytest.mark.parametrize(
    ("key", "accepted"),
    [
        ("a" * COMMAND_KEY_BYTES, True),
        ("%" * COMMAND_KEY_BYTES, True),
        ("é" * (COMMAND_KEY_BYTES // 2), True),
        ("é" * 100, False),
        ("a" * (COMMAND_KEY_BYTES + 1), False),
    ],
)
def test_an_idempotency_key_fits_its_column_and_its_room_in_bytes(key: str, accepted: bool) -> None:
    assert (key_problem(key) is None) == accepted
    if accepted:
        assert len(rooms.COMMAND.format(key=key)) <= MAX_ROOM_LENGTH
