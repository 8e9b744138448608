"""Fleet escalation on a fake clock: K failures in a window, cleared on recovery."""

from __future__ import annotations

from tests.derive.inputs import Driver, fleet_state, robot, task_state


def _fleet_kinds(out: object) -> list[str]:
    return [e.kind for e in out.events if e.kind.startswith("fleet_")]  # type: ignore[attr-defined]


def test_two_failures_in_the_window_do_not_escalate() -> None:
    d = Driver()
    d.at(0).feed(task_state("t1", "failed"))
    assert _fleet_kinds(d.at(1).feed(task_state("t2", "failed"))) == []


def test_the_third_failure_in_the_window_raises_one_critical_fleet_alert() -> None:
    d = Driver()
    d.at(0).feed(task_state("t1", "failed"))
    d.at(1).feed(task_state("t2", "failed"))
    out = d.at(2).feed(task_state("t3", "failed"))
    assert _fleet_kinds(out) == ["fleet_escalated"]
    assert [(a.condition, a.tier) for a in out.opened] == [("fleet_escalation/f", "error")]
    assert d.at(3).feed(task_state("t4", "failed")).opened == []


def test_failures_spread_wider_than_the_window_do_not_escalate() -> None:
    d = Driver()
    d.at(0).feed(task_state("t1", "failed"))
    d.at(200).feed(task_state("t2", "failed"))
    assert _fleet_kinds(d.at(300).feed(task_state("t3", "failed"))) == []


def test_the_fleet_alert_clears_once_the_window_holds_fewer_than_k_failures() -> None:
    d = Driver()
    for i in range(3):
        d.at(i).feed(task_state(f"t{i}", "failed"))
    assert d.at(299.999).tick().closed == []
    out = d.at(300).tick()
    assert _fleet_kinds(out) == ["fleet_recovered"] and [c.condition for c in out.closed] == [
        "fleet_escalation/f"
    ]


def test_the_fleet_alert_stays_while_a_robot_is_in_error() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot("a", status="error"), robot("b"), robot("c")))
    d.at(1).feed(task_state("t1", "failed"))
    d.at(2).feed(task_state("t2", "failed"))
    for s in range(10, 400, 10):
        d.at(s).feed(fleet_state("f", robot("a", status="error"), robot("b"), robot("c")))
        assert d.tick().closed == []
    out = d.at(401).feed(fleet_state("f", robot("a"), robot("b"), robot("c")))
    assert _fleet_kinds(out) + _fleet_kinds(d.tick()) == ["fleet_recovered"]
