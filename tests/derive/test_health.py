"""Robot health on a fake clock: stuck, battery hysteresis boundaries, error status, issues."""

from __future__ import annotations

import dataclasses

import pytest

from hub.derive import Deriver, Snapshot
from hub.derive.config import Connectivity
from hub.derive.health import Battery, battery_level
from tests.derive.inputs import CONFIG, T0, Driver, fleet_state, kinds, robot

ALWAYS_ONLINE = dataclasses.replace(CONFIG, connectivity=Connectivity(10**9, 10**9))
"""Stuck tests leave long gaps between updates; connectivity is not what they test."""


def _health(out: object) -> list[str]:
    return [k for k in kinds(out) if k != "robot_online"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("current", "charge", "expected"),
    [
        (Battery.NORMAL, 0.2001, Battery.NORMAL),
        (Battery.NORMAL, 0.2, Battery.LOW),
        (Battery.NORMAL, 0.1, Battery.CRITICAL),
        (Battery.LOW, 0.25, Battery.LOW),
        (Battery.LOW, 0.2501, Battery.NORMAL),
        (Battery.LOW, 0.1001, Battery.LOW),
        (Battery.CRITICAL, 0.15, Battery.CRITICAL),
        (Battery.CRITICAL, 0.1501, Battery.LOW),
        (Battery.CRITICAL, 0.2501, Battery.NORMAL),
    ],
    ids=[
        "normal-above-low",
        "normal-at-low",
        "normal-at-critical",
        "low-at-low-plus-margin",
        "low-above-low-plus-margin",
        "low-above-critical",
        "critical-at-critical-plus-margin",
        "critical-above-critical-plus-margin",
        "critical-above-low-plus-margin",
    ],
)
def test_battery_level_boundaries(current: Battery, charge: float, expected: Battery) -> None:
    assert battery_level(CONFIG, current, charge) is expected


def test_battery_low_opens_a_warning_alert() -> None:
    out = Driver().at(0).feed(fleet_state("f", robot(battery=0.2)))
    assert _health(out) == ["battery_low"]
    assert [(a.condition, a.tier) for a in out.opened] == [("battery_low/f/r1", "warning")]


def test_battery_hovering_at_the_threshold_does_not_flap() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot(battery=0.2)))
    outs = [
        d.at(i).feed(fleet_state("f", robot(battery=b)))
        for i, b in enumerate((0.21, 0.19, 0.24), 1)
    ]
    assert all(o.events == [] for o in outs)


def test_battery_critical_replaces_the_low_alert() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot(battery=0.2)))
    out = d.at(1).feed(fleet_state("f", robot(battery=0.1)))
    assert _health(out) == ["battery_critical"]
    assert [c.condition for c in out.closed] == ["battery_low/f/r1"]
    assert [(a.condition, a.tier) for a in out.opened] == [("battery_critical/f/r1", "error")]


def test_battery_recovered_closes_the_alert() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot(battery=0.2)))
    out = d.at(1).feed(fleet_state("f", robot(battery=0.26)))
    assert _health(out) == ["battery_normal"] and [c.condition for c in out.closed] == [
        "battery_low/f/r1"
    ]


def test_working_robot_that_does_not_move_is_stuck_after_the_threshold() -> None:
    d = Driver(config=ALWAYS_ONLINE)
    d.at(0).feed(fleet_state("f", robot(status="working")))
    assert d.at(59.999).tick().events == []
    out = d.at(60).tick()
    assert kinds(out) == ["robot_stuck"] and out.opened[0].condition == "robot_stuck/f/r1"


def test_an_idle_robot_that_does_not_move_is_not_stuck() -> None:
    d = Driver(config=ALWAYS_ONLINE)
    d.at(0).feed(fleet_state("f", robot(status="idle")))
    assert d.at(600).tick().events == []


def test_pose_noise_below_the_distance_does_not_count_as_moving() -> None:
    d = Driver(config=ALWAYS_ONLINE)
    d.at(0).feed(fleet_state("f", robot(status="working")))
    d.at(30).feed(fleet_state("f", robot(status="working", x=0.01)))
    assert kinds(d.at(60).tick()) == ["robot_stuck"]


def test_moving_clears_stuck() -> None:
    d = Driver(config=ALWAYS_ONLINE)
    d.at(0).feed(fleet_state("f", robot(status="working")))
    d.at(60).tick()
    out = d.at(61).feed(fleet_state("f", robot(status="working", x=1.0)))
    assert _health(out) == ["robot_unstuck"] and [c.condition for c in out.closed] == [
        "robot_stuck/f/r1"
    ]


def test_error_status_opens_an_error_alert_and_clearing_closes_it() -> None:
    d = Driver()
    issue = [{"category": "fault", "detail": "lidar"}]
    out = d.at(0).feed(fleet_state("f", robot(status="error", issues=issue)))
    assert _health(out) == ["robot_error", "issue_raised"]
    assert out.opened[0].message.endswith(": lidar")
    out = d.at(1).feed(fleet_state("f", robot(status="idle")))
    assert _health(out) == ["robot_error_cleared", "issue_cleared"]
    assert [c.condition for c in out.closed] == ["robot_error/f/r1"]


def test_a_traffic_blocked_issue_opens_a_warning_alert_until_it_clears() -> None:
    d = Driver()
    issue = [{"category": "traffic_blocked", "detail": "waiting for r2 on node:b"}]
    out = d.at(0).feed(fleet_state("f", robot(issues=issue)))
    assert _health(out) == ["issue_raised"]
    assert [(a.condition, a.tier) for a in out.opened] == [("traffic_blocked/f/r1", "warning")]
    out = d.at(1).feed(fleet_state("f", robot()))
    assert [c.condition for c in out.closed] == ["traffic_blocked/f/r1"]


def test_an_unchanged_issue_list_derives_nothing() -> None:
    d = Driver()
    issue = [{"category": "door", "detail": "waiting"}]
    d.at(0).feed(fleet_state("f", robot(issues=issue)))
    assert d.at(1).feed(fleet_state("f", robot(issues=issue))).events == []


def test_issues_a_robot_already_had_before_a_restart_are_not_raised_again() -> None:
    d = Driver(Deriver(CONFIG, Snapshot(start_ms=T0)))
    issue = [{"category": "door", "detail": "waiting"}]
    assert d.at(0).feed(fleet_state("f", robot(issues=issue))).events == []


def test_an_issue_cleared_after_a_restart_is_reported() -> None:
    d = Driver(Deriver(CONFIG, Snapshot(start_ms=T0)))
    d.at(0).feed(fleet_state("f", robot(issues=[{"category": "door", "detail": "waiting"}])))
    assert _health(d.at(1).feed(fleet_state("f", robot()))) == ["issue_cleared"]
