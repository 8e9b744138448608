"""The acknowledged site link's frames, and what a command acts on (how it is routed)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fleetcore.contract.commands import CommandKind, command_target
from fleetcore.contract.ingest import IngestType, decode, encode
from fleetcore.contract.site_link import (
    Serves,
    ack_frame,
    frame_number,
    hello_frame,
    number_frame,
    parse_hello,
)
from fleetcore.errors import IngestRejected

LOG = encode(IngestType.FLEET_LOG, {"name": "f1", "log": []})


def test_a_numbered_frame_carries_its_number_first_and_decodes_as_the_frame_itself() -> None:
    numbered = number_frame(17, LOG)
    assert numbered.startswith(b'{"n":17,')
    assert frame_number(numbered) == 17
    assert decode(numbered) == decode(LOG)


@pytest.mark.parametrize(
    "raw",
    [LOG, b'{"type":"x","n":3}', b'{ "n":3,"type":"x"}', b"not json at all", b'{"n":-1,'],
    ids=["unnumbered", "number-not-first", "space-before", "garbage", "negative"],
)
def test_a_frame_without_a_leading_number_is_unnumbered(raw: bytes) -> None:
    assert frame_number(raw) is None


def test_the_number_is_read_even_from_a_frame_too_broken_to_parse() -> None:
    assert frame_number(b'{"n":42,"type":"task_log_update","data":{') == 42


@pytest.mark.parametrize("frame", [b"[1, 2]", b"{}", b"{ }", b'"text"'])
def test_only_a_json_object_with_members_can_be_numbered(frame: bytes) -> None:
    with pytest.raises(ValueError, match="JSON object"):
        number_frame(1, frame)


def test_a_hello_says_the_session_and_what_the_site_serves() -> None:
    serves = Serves(commands=("door_request",), dispatcher=True, doors=("d1",))
    hello = parse_hello(hello_frame("site-1", serves))
    assert hello is not None
    assert (hello.session, hello.serves) == ("site-1", serves)


def test_a_frame_of_another_type_is_no_hello() -> None:
    assert parse_hello(LOG) is None
    assert parse_hello(b"[") is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "data.session"),
        ({"session": ""}, "data.session"),
        ({"session": "has space"}, "data.session"),
        ({"session": "s" * 65}, "data.session"),
        ({"session": "s", "serves": {"fleets": [""]}}, "data.serves.fleets.0"),
        ({"session": "s", "serves": {"dispatcher": "maybe"}}, "data.serves.dispatcher"),
    ],
    ids=["missing", "empty", "space", "too-long", "empty-fleet", "not-a-boolean"],
)
def test_a_bad_hello_is_refused_naming_its_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(IngestRejected) as refused:
        parse_hello(orjson.dumps({"type": "hello", "data": data}))
    assert refused.value.reason == "invalid_field"
    assert refused.value.detail.startswith(field + ":")


def test_an_ack_names_the_highest_durable_frame() -> None:
    assert orjson.loads(ack_frame(9)) == {"type": "ack", "data": {"n": 9}}


@pytest.mark.parametrize(
    ("kind", "body", "target"),
    [
        (CommandKind.DISPATCH_TASK, {"request": {"fleet_name": "f1"}}, ("fleet", "f1")),
        (CommandKind.DISPATCH_TASK, {"request": {"category": "patrol"}}, None),
        (CommandKind.ROBOT_TASK, {"fleet": "f1", "robot": "r1"}, ("fleet", "f1")),
        (CommandKind.ROBOT_COMMISSION, {"fleet": "f2", "robot": "r1"}, ("fleet", "f2")),
        (CommandKind.ROBOT_PAUSE, {"fleet": "f3", "robot": "r1"}, ("fleet", "f3")),
        (CommandKind.ROBOT_RESUME, {"fleet": "f3", "robot": "r1"}, ("fleet", "f3")),
        (CommandKind.ROBOT_CHARGE, {"fleet": "f3", "robot": "r1"}, ("fleet", "f3")),
        (CommandKind.CLEAR_RESERVATIONS, {"fleet": "f3", "robot": "r1"}, ("fleet", "f3")),
        (CommandKind.CANCEL_TASK, {"task_id": "t1"}, ("task", "t1")),
        (CommandKind.KILL_TASK, {"task_id": "t1"}, ("task", "t1")),
        (CommandKind.INTERRUPT_TASK, {"task_id": "t1"}, ("task", "t1")),
        (CommandKind.REWIND_TASK, {"task_id": "t1", "phase_id": 1}, ("task", "t1")),
        (CommandKind.SKIP_PHASE, {"task_id": "t1", "phase_id": 1}, ("task", "t1")),
        (CommandKind.RESUME_TASK, {"for_task": "t2"}, ("task", "t2")),
        (CommandKind.UNDO_SKIP_PHASE, {"for_task": "t2"}, ("task", "t2")),
        (CommandKind.DOOR_REQUEST, {"door_name": "d1", "mode": 2}, ("door", "d1")),
        (CommandKind.LIFT_REQUEST, {"lift_name": "L1"}, ("lift", "L1")),
        (CommandKind.TASK_DISCOVERY, {"type": "task_discovery_request"}, None),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_command_names_what_it_acts_on(
    kind: CommandKind, body: dict[str, Any], target: tuple[str, str] | None
) -> None:
    assert command_target(kind, body) == target
