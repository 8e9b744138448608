"""The strict way for fleet states: what it takes, the models take and publish alike; the rest
goes the full way, accepted or refused exactly as before."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetcore.contract import rmf, rooms, strict_fleet_state
from fleetcore.contract.ingest import IngestType, decode
from fleetcore.contract.rmf._base import name_problem
from fleetcore.errors import IngestRejected
from hub.encoding import dump


def _robot(name: str = "r1", **changes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "status": "working",
        "task_id": "task-1",
        "unix_millis_time": 1_700_000_000_000,
        "location": {"map": "L1", "x": 10.5, "y": 5, "yaw": 1.57},
        "battery": 0.8,
        "issues": [],
        **changes,
    }


def _frame(data: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"type": "fleet_state_update", "data": data, **extra})


def _fleet(*robots: dict[str, Any], name: str = "f") -> dict[str, Any]:
    return {"name": name, "robots": {robot["name"]: robot for robot in robots}}


def _published_by_the_models(data: dict[str, Any]) -> Any:
    return orjson.loads(dump(rmf.FleetState.model_validate(data)))


def test_a_plain_fleet_state_is_taken_the_strict_way() -> None:
    message = decode(_frame(_fleet(_robot("r1"), _robot("r2"))))
    assert message.type is IngestType.FLEET_STATE
    assert isinstance(message.data, strict_fleet_state.FleetState)
    assert list(message.data.robots) == ["r1", "r2"]


@pytest.mark.parametrize(
    "robot",
    [
        _robot(),
        {"name": "r1"},
        {"name": "r1", "location": {"map": "", "x": 1, "y": 2, "yaw": 3}},
        _robot(issues=[{"category": "blocked", "detail": "a plain detail"}, {}]),
        _robot(commission={"dispatch_tasks": True, "idle_behavior": False}),
        _robot(mutex_groups={"locked": ["g1"], "requesting": []}),
        _robot(task_id="", battery=1),
    ],
    ids=["full", "name only", "ints for floats", "issues", "commission", "mutex", "edges"],
)
def test_the_strict_way_publishes_what_the_models_publish(robot: dict[str, Any]) -> None:
    data = _fleet(robot)
    state = strict_fleet_state.decode(_frame(data))
    assert state is not None
    assert orjson.loads(strict_fleet_state.encode(state)) == _published_by_the_models(data)


@pytest.mark.parametrize(
    "data",
    [
        _fleet(_robot(vendor={"kept": True})),
        {**_fleet(_robot()), "site": "kept"},
        _fleet(_robot(battery="0.5")),
        _fleet(_robot(battery=None)),
        _fleet(_robot("robot-é")),
        _fleet(_robot(issues=[{"category": "ménage"}])),
        _fleet(_robot(issues=[{"category": "c", "detail": {"nested": [1]}}])),
        _fleet(_robot(mutex_groups={"locked": ["g1"]})),
        {"name": "f"},
    ],
    ids=[
        "unknown robot field",
        "unknown fleet field",
        "lax number",
        "explicit null",
        "non-ascii name",
        "non-ascii text",
        "nested detail",
        "mutex group left to its default",
        "robots left to their default",
    ],
)
def test_what_the_strict_way_does_not_take_goes_the_full_way(data: dict[str, Any]) -> None:
    assert strict_fleet_state.decode(_frame(data)) is None
    message = decode(_frame(data))
    assert isinstance(message.data, rmf.FleetState)
    assert orjson.loads(dump(message.data)) == _published_by_the_models(data)


def test_text_escaped_as_unicode_goes_the_full_way() -> None:
    frame = json.dumps({"type": "fleet_state_update", "data": _fleet(_robot(task_id="é"))})
    assert "\\u00e9" in frame
    assert strict_fleet_state.decode(frame.encode()) is None
    assert decode(frame).data.robots["r1"].task_id == "é"


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (_fleet(_robot(battery=1.5)), "data.robots.r1.battery: Input should be less than or equal"),
        (_fleet(_robot(status="dancing")), "data.robots.r1.status: Input should be"),
        ({"name": "f", "robots": {"r1": _robot("")}}, "data.robots.r1.name: String should have"),
        (_fleet(_robot(), name="/" * 200), "data.name: 600 bytes percent-encoded"),
        (_fleet(_robot(task_id="x" * 300)), "data.robots.r1.task_id: "),
    ],
    ids=["battery over 1", "unknown status", "empty name", "name unfit for a room", "long task"],
)
def test_a_frame_the_models_refuse_is_refused_as_before(data: dict[str, Any], detail: str) -> None:
    assert strict_fleet_state.decode(_frame(data)) is None
    with pytest.raises(IngestRejected) as refused:
        decode(_frame(data))
    assert refused.value.detail.startswith(detail)


def test_an_unchanged_robot_is_the_same_state_and_a_changed_one_a_new_one() -> None:
    first = strict_fleet_state.decode(_frame(_fleet(_robot("a"), _robot("b"), name="reuse")))
    moved = _robot("b", location={"map": "L1", "x": 99.0, "y": 5.0, "yaw": 1.57})
    second = strict_fleet_state.decode(_frame(_fleet(_robot("a"), moved, name="reuse")))
    assert first is not None and second is not None
    assert second.robots["a"] is first.robots["a"]
    assert second.robots["b"] is not first.robots["b"]
    assert second.robots["b"].location is not None and second.robots["b"].location.x == 99.0


names = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="\\"),
    min_size=1,
    max_size=12,
)
"""Printable ASCII but the backslash, which JSON escapes: a frame with an escape (``\\u``
included) may go the full way."""
floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
robots = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["idle", "working", "error", "charging", "offline"]),
        "task_id": st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8),
        "unix_millis_time": st.integers(0, 2**63 - 1),
        "location": st.fixed_dictionaries(
            {"map": names, "x": floats | st.integers(-(10**6), 10**6), "y": floats, "yaw": floats}
        ),
        "battery": st.floats(0.0, 1.0),
        "issues": st.lists(
            st.fixed_dictionaries({}, optional={"category": names, "detail": names}),
            max_size=2,
        ),
        "commission": st.fixed_dictionaries({}, optional={"direct_tasks": st.booleans()}),
    },
)


@given(fleet=names, robots=st.dictionaries(names, robots, max_size=4))
def test_any_fleet_state_the_strict_way_takes_is_published_as_the_models_publish_it(
    fleet: str, robots: dict[str, dict[str, Any]]
) -> None:
    data = {"name": fleet, "robots": {name: {"name": name, **r} for name, r in robots.items()}}
    frame = _frame(data)
    state = strict_fleet_state.decode(frame)
    if name_problem(fleet, rooms.FLEET_STATE, rooms.FLEET_LOG) or b"null" in frame:
        assert state is None
        return
    assert state is not None
    assert orjson.loads(strict_fleet_state.encode(state)) == _published_by_the_models(data)
