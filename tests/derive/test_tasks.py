"""Task lifecycle on a fake clock: transitions with durations, delayed, stale."""

from __future__ import annotations

from tests.derive.inputs import Driver, fleet_state, kinds, robot, task_state


def test_transitions_carry_the_time_spent_in_the_previous_status() -> None:
    d = Driver()
    d.at(0).feed(task_state("t1", "queued"))
    d.at(5).feed(task_state("t1", "underway"))
    out = d.at(65).feed(task_state("t1", "completed"))
    assert kinds(out) == ["task_completed"]
    assert out.events[0].detail == {"from": "underway", "previous_ms": 60_000, "total_ms": 65_000}


def test_a_repeated_status_is_no_transition() -> None:
    d = Driver()
    d.at(0).feed(task_state("t1", "underway"))
    assert d.at(1).feed(task_state("t1", "underway")).events == []


def test_a_resent_final_state_is_no_new_transition() -> None:
    d = Driver()
    d.at(0).feed(task_state("t1", "failed"))
    assert d.at(1).feed(task_state("t1", "failed")).events == []


def test_failed_is_an_error_event() -> None:
    out = Driver().at(0).feed(task_state("t1", "failed"))
    assert [(e.kind, e.severity, e.task_id) for e in out.events] == [("task_failed", "error", "t1")]


def test_a_task_running_past_its_estimate_and_tolerance_is_delayed_once() -> None:
    d = Driver()
    d.at(0).feed(task_state("t1", "underway", estimate_ms=40_000))
    d.at(-10)  # keep the robot's connectivity out of the picture
    assert d.at(50).tick().events == []
    out = d.at(50.001).tick()
    assert [e.kind for e in out.events if e.task_id] == ["task_delayed"]
    assert [e.kind for e in d.at(51).tick().events if e.task_id] == []


def test_an_underway_task_whose_state_stops_updating_is_stale() -> None:
    d = Driver()
    d.at(0).feed(task_state("t1", "underway"))
    assert [e.kind for e in d.at(119.999).tick().events if e.task_id] == []
    out = d.at(120).tick()
    assert [e.kind for e in out.events if e.task_id] == ["task_stale"]
    assert out.events[-1].detail["reason"] == "no_updates"
    assert [a.task_id for a in out.opened] == ["t1"]


def test_a_queued_task_is_never_stale() -> None:
    d = Driver()
    d.at(0).feed(task_state("t1", "queued"))
    assert d.at(1000).tick().events == []


def test_an_underway_task_whose_robot_is_offline_is_stale() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot("r1")))
    d.at(0).feed(task_state("t1", "underway"))
    out = d.at(30).tick()
    assert kinds(out) == ["robot_stale", "robot_offline", "task_stale"]
    assert out.events[-1].detail["reason"] == "robot_offline"


def test_an_update_clears_stale() -> None:
    d = Driver()
    d.at(0).feed(task_state("t1", "underway"))
    d.at(120).tick()
    out = d.at(121).feed(task_state("t1", "underway"))
    assert kinds(out) == ["task_stale_cleared"] and [c.condition for c in out.closed] == [
        "task_stale/t1"
    ]
