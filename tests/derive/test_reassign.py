"""Reassignment policy: cancel and dispatch once when a robot goes offline mid-task."""

from __future__ import annotations

import dataclasses

from fleetcore.contract.commands import REQUEST_LABEL, RESERVED_KEY_PREFIX
from hub.derive import Deriver, Snapshot
from hub.derive.reassign import reassign_key
from tests.derive.inputs import CONFIG, T0, Driver, fleet_state, robot, task_state

ON = dataclasses.replace(CONFIG, reassign=True)


def _offline_mid_task(d: Driver, *labels: str) -> list[tuple[str, str]]:
    d.at(0).feed(fleet_state("f", robot("r1", status="working", task_id="t1")))
    d.at(0).feed(task_state("t1", "underway", labels=labels))
    return [(c.kind, c.key) for c in d.at(30).tick().commands]


def test_policy_off_issues_no_command() -> None:
    assert _offline_mid_task(Driver()) == []


def test_policy_on_cancels_and_dispatches_again_with_keys_from_the_task() -> None:
    assert _offline_mid_task(Driver(config=ON)) == [
        ("cancel_task", reassign_key("t1", "cancel")),
        ("dispatch_task", reassign_key("t1", "dispatch")),
    ]


def test_reassignment_keys_are_the_hubs_own_and_the_same_for_every_hub() -> None:
    key = reassign_key("t1", "dispatch")
    assert key.startswith(RESERVED_KEY_PREFIX) and key == reassign_key("t1", "dispatch")
    assert key != reassign_key("t2", "dispatch") != reassign_key("t1", "cancel")
    assert len(reassign_key("x" * 256, "dispatch")) <= 128


def test_the_new_dispatch_links_to_the_original() -> None:
    d = Driver(config=ON)
    _offline_mid_task(d, "zone=kitchen")
    d.at(40).feed(fleet_state("f", robot("r1")))
    out = d.at(100).tick()
    assert out.commands == []


def test_a_task_is_reassigned_only_once_when_its_robot_goes_offline_again() -> None:
    d = Driver(config=ON)
    _offline_mid_task(d)
    d.at(40).feed(fleet_state("f", robot("r1", status="working", task_id="t1")))
    assert d.at(80).tick().commands == []


def test_a_reassigned_task_is_not_reassigned_after_a_restart() -> None:
    d = Driver(Deriver(ON, Snapshot(start_ms=T0, reassigned={"t1"})))
    assert _offline_mid_task(d) == []


def test_a_reassignment_is_never_reassigned_again() -> None:
    assert _offline_mid_task(Driver(config=ON), "reassigned_from=t0") == []


def test_dispatch_request_carries_the_link_label() -> None:
    d = Driver(config=ON)
    d.at(0).feed(fleet_state("f", robot("r1", status="working", task_id="t1")))
    d.at(0).feed(task_state("t1", "underway", labels=("zone=kitchen",)))
    dispatch = d.at(30).tick().commands[1]
    assert dispatch.body["request"]["labels"] == ["zone=kitchen", "reassigned_from=t1"]


def test_the_new_dispatch_drops_the_originals_request_id_label() -> None:
    d = Driver(config=ON)
    d.at(0).feed(fleet_state("f", robot("r1", status="working", task_id="t1")))
    d.at(0).feed(task_state("t1", "underway", labels=(f"{REQUEST_LABEL}=fh-1", "zone=k")))
    dispatch = d.at(30).tick().commands[1]
    assert dispatch.body["request"]["labels"] == ["zone=k", "reassigned_from=t1"]


def test_the_new_dispatch_goes_to_the_fleet_not_to_a_robot() -> None:
    d = Driver(config=ON)
    d.at(0).feed(fleet_state("f", robot("r1", status="working", task_id="t1")))
    d.at(0).feed(task_state("t1", "underway"))
    dispatch = d.at(30).tick().commands[1]
    assert dispatch.body["type"] == "dispatch_task_request"
    assert dispatch.body["request"]["fleet_name"] == "f"
    assert "robot" not in dispatch.body and "robot" not in dispatch.body["request"]


def test_a_task_without_a_description_is_not_reassigned_but_reported() -> None:
    d = Driver(config=ON)
    d.at(0).feed(fleet_state("f", robot("r1", status="working", task_id="t1")))
    message = task_state("t1", "underway")
    message.data.detail = "no description"
    d.at(0).feed(message)
    out = d.at(30).tick()
    assert out.commands == []
    assert "task_reassign_skipped" in [e.kind for e in out.events]


def test_the_new_dispatch_carries_the_original_description() -> None:
    d = Driver(config=ON)
    d.at(0).feed(fleet_state("f", robot("r1", status="working", task_id="t1")))
    d.at(0).feed(task_state("t1", "underway"))
    dispatch = d.at(30).tick().commands[1]
    assert dispatch.body["request"]["description"] == {"places": ["lobby"]}


def test_a_task_still_queued_on_an_offline_robot_is_not_reassigned() -> None:
    d = Driver(config=ON)
    d.at(0).feed(fleet_state("f", robot("r1")))
    d.at(0).feed(task_state("t1", "queued"))
    assert d.at(30).tick().commands == []


def _error_mid_task(d: Driver) -> list[tuple[str, str]]:
    d.at(0).feed(fleet_state("f", robot("r1", status="working", task_id="t1")))
    d.at(0).feed(task_state("t1", "underway"))
    out = d.at(1).feed(fleet_state("f", robot("r1", status="error", task_id="t1")))
    return [(c.kind, c.key) for c in out.commands]


def test_a_robot_entering_error_mid_task_has_its_task_reassigned() -> None:
    assert _error_mid_task(Driver(config=ON)) == [
        ("cancel_task", reassign_key("t1", "cancel")),
        ("dispatch_task", reassign_key("t1", "dispatch")),
    ]


def test_a_robot_in_error_then_offline_has_its_task_reassigned_once() -> None:
    d = Driver(config=ON)
    _error_mid_task(d)
    assert d.at(30).tick().commands == []


def test_policy_off_reassigns_nothing_on_error() -> None:
    assert _error_mid_task(Driver()) == []
