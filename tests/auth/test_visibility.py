"""The visibility rules, and the two transports that apply them agreeing on every case.

A user must see the same robots and tasks in a room as in the REST read of
the same path: both go through :mod:`fleetcore.auth.visibility`, and these
tables check the rules and that agreement.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fleetcore.auth import Permission, Principal, Scope
from fleetcore.auth.visibility import (
    Concern,
    TaskConcern,
    alert_concern,
    fleet_log_of,
    holds_on,
    may_read_concern,
    may_read_task,
    readable_robots,
    reads_fleet,
    sees_task,
    task_concern,
)
from fleetcore.contract import rooms
from fleetcore.contract.envelope import Publication
from proxy.access import FleetLogView, FleetStateView, TaskView
from proxy.concerns import Concerns
from rest_api.visibility import fleet_log_view, fleet_state_view, task_state_view

ROBOT_A1 = Scope(robots=frozenset({("shared", "a1")}))
FLEET_ALPHA = Scope(fleets=frozenset({"alpha"}))

READER = Principal("reader", False, {Permission.robot_read: ROBOT_A1}, None)
"""Reads one robot of the shared fleet, and none of its tasks."""
TASKER = Principal(
    "tasker",
    False,
    {Permission.robot_read: FLEET_ALPHA | ROBOT_A1, Permission.task_read: FLEET_ALPHA},
    None,
)
"""Reads fleet alpha and robot shared/a1, and alpha's tasks."""
STRANGER = Principal("stranger", False, {}, None)
ROOT = Principal("root", True, {}, None)
PRINCIPALS = [READER, TASKER, STRANGER, ROOT]


def _task(group: str | None, name: str | None, requester: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {"booking": {"id": "t1", "requester": requester}}
    if group is not None:
        state["assigned_to"] = {"group": group, "name": name}
    return state


TASKS = {
    "alpha_robot": _task("alpha", "r9", "someone"),
    "shared_a1": _task("shared", "a1", "someone"),
    "unassigned_mine": _task(None, None, "stranger"),
    "unassigned_other": _task(None, None, "someone"),
    "half_assigned": _task("alpha", "", "stranger"),
}


@pytest.mark.parametrize(
    ("principal", "fleet", "robots"),
    [
        (READER, "shared", frozenset({"a1"})),
        (READER, "alpha", frozenset()),
        (TASKER, "alpha", None),
        (STRANGER, "alpha", frozenset()),
        (ROOT, "anything", None),
    ],
    ids=["one_robot", "no_robot", "whole_fleet", "nothing", "admin"],
)
def test_the_robots_a_principal_reads_of_a_fleet(
    principal: Principal, fleet: str, robots: frozenset[str] | None
) -> None:
    assert readable_robots(principal, fleet) == robots
    assert reads_fleet(principal, fleet) == (robots != frozenset())


def test_a_task_is_read_by_its_robot_or_while_unassigned_by_its_requester() -> None:
    readable = {
        p.username: sorted(n for n, s in TASKS.items() if may_read_task(p, task_concern(s)))
        for p in PRINCIPALS
    }
    assert readable == {
        "reader": [],
        "tasker": ["alpha_robot"],
        "stranger": ["half_assigned", "unassigned_mine"],
        "root": sorted(TASKS),
    }
    # The reader sees robot a1 without task_read: its task is forbidden, not hidden.
    shared = task_concern(TASKS["shared_a1"])
    assert sees_task(READER, shared) and not may_read_task(READER, shared)


def test_an_alert_follows_its_robot_its_fleet_or_its_task() -> None:
    on_a1 = alert_concern(
        {
            "alert_parameters": [
                {"name": "fleet", "value": "shared"},
                {"name": "robot", "value": "a1"},
            ]
        }
    )
    fleet_wide = alert_concern({"alert_parameters": [{"name": "fleet", "value": "alpha"}]})
    of_task = Concern(task_id="t1")
    alpha_task = TaskConcern(("alpha", "r9"), "someone")

    assert on_a1 == Concern(None, "shared", "a1")
    assert may_read_concern(READER, on_a1, None) and not may_read_concern(READER, fleet_wide, None)
    assert may_read_concern(TASKER, fleet_wide, None)
    assert may_read_concern(TASKER, of_task, alpha_task)
    assert not may_read_concern(TASKER, of_task, None)  # a task nobody knows: not shown
    assert not may_read_concern(TASKER, Concern(), None) and may_read_concern(ROOT, Concern(), None)
    assert not holds_on(TASKER, Permission.alert_respond, fleet_wide, None)


def _pub(room: str, data: Any) -> Publication:
    return Publication(room, 1, 1, 0, orjson.dumps(data))


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.username)
def test_a_room_and_the_rest_read_show_the_same_robots_of_a_fleet(principal: Principal) -> None:
    state = {"name": "shared", "robots": {"a1": {"name": "a1"}, "b1": {"name": "b1"}}}
    rest = fleet_state_view(principal, orjson.dumps(state))
    robots = readable_robots(principal, "shared")
    if robots is None:
        room: Any = state
    elif robots:
        shown = FleetStateView(robots).render(_pub(rooms.FLEET_STATE.format(name="shared"), state))
        room = shown.data() if shown is not None else None
    else:
        room = None  # the room refuses the subscription: not found
    assert (orjson.loads(rest) if rest is not None else None) == room


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.username)
@pytest.mark.parametrize("name", sorted(TASKS))
def test_a_room_and_the_rest_read_agree_on_a_task(principal: Principal, name: str) -> None:
    pub = _pub(rooms.TASK_STATE.format(task_id="t1"), TASKS[name])
    in_room = TaskView(principal, "t1", Concerns()).render(pub) is not None
    assert in_room == (task_state_view(principal, pub.data_json) is not None)


def test_a_fleet_log_cut_to_robots_keeps_only_their_entries() -> None:
    """Fleet-level entries need the whole fleet; a cut with no entry left is none at all."""
    update = {"name": "shared", "log": [{"text": "fleet"}], "robots": {"a1": [1], "b1": [2]}}
    assert fleet_log_of(update, frozenset({"a1"})) == {"name": "shared", "robots": {"a1": [1]}}
    assert fleet_log_of(update, frozenset({"c1"})) is None


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.username)
def test_a_room_and_graphql_show_the_same_entries_of_a_fleet_log(principal: Principal) -> None:
    update = {"name": "shared", "log": [{"text": "fleet"}], "robots": {"a1": [1], "b1": [2]}}
    graphql = fleet_log_view(principal, orjson.dumps(update))
    robots = readable_robots(principal, "shared")
    if robots is None:
        room: Any = update
    else:
        shown = FleetLogView(robots).render(_pub(rooms.FLEET_LOG.format(name="shared"), update))
        room = shown.data() if shown is not None else None
    assert (orjson.loads(graphql) if graphql is not None else None) == room
