"""Robot connectivity on a fake clock: stale, offline, back online, restart grace, per-fleet thresholds."""

from __future__ import annotations

from fleetcore.contract.limits import CONDITION_BYTES, NAME_BYTES
from fleetcore.settings import Settings
from hub.derive import DeriveConfig, Deriver, Snapshot
from hub.derive.alerts import AlertBook
from hub.derive.base import Output
from hub.derive.connectivity import Link, offline_condition
from tests.derive.inputs import CONFIG, T0, Driver, fleet_state, kinds, robot


def test_a_robot_heard_of_for_the_first_time_is_online_without_an_event() -> None:
    d = Driver()
    assert d.at(0).feed(fleet_state("f", robot("r1"))).events == []
    assert d.deriver.connectivity.robots[("f", "r1")].state is Link.ONLINE


def test_robot_stays_online_just_before_the_stale_threshold() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot("r1")))
    assert kinds(d.at(9.999).tick()) == []


def test_robot_turns_stale_at_the_stale_threshold() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot("r1")))
    out = d.at(10).tick()
    assert kinds(out) == ["robot_stale"]
    assert out.events[0].detail == {"silent_ms": 10_000}
    assert out.opened == []


def test_robot_turns_offline_at_the_offline_threshold_with_an_error_alert() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot("r1")))
    d.at(10).tick()
    out = d.at(30).tick()
    assert kinds(out) == ["robot_offline"]
    assert [(a.condition, a.tier) for a in out.opened] == [("robot_offline/f/r1", "error")]


def test_a_late_tick_reports_stale_before_offline() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot("r1")))
    assert kinds(d.at(45).tick()) == ["robot_stale", "robot_offline"]


def test_offline_is_reported_once() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot("r1")))
    d.at(30).tick()
    assert d.at(31).tick().events == [] and d.at(300).tick().events == []


def test_next_update_brings_an_offline_robot_online_and_closes_its_alert() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot("r1")))
    opened = d.at(30).tick().opened[0]
    out = d.at(40).feed(fleet_state("f", robot("r1")))
    assert kinds(out) == ["robot_online"]
    assert out.events[0].detail == {"was": "offline", "silent_ms": 10_000}
    assert [c.alert_id for c in out.closed] == [opened.alert_id]


def test_a_stale_robot_comes_back_without_an_alert() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot("r1")))
    d.at(12).tick()
    out = d.at(13).feed(fleet_state("f", robot("r1")))
    assert kinds(out) == ["robot_online"] and out.closed == []


def test_fleet_thresholds_override_the_defaults() -> None:
    config = DeriveConfig.from_settings(
        Settings(derive_stale_s=10, derive_offline_s=30, derive_fleet_thresholds="fast=2/5")
    )
    d = Driver(config=config)
    d.at(0).feed(fleet_state("fast", robot("a")))
    d.at(0).feed(fleet_state("slow", robot("b")))
    out = d.at(5).tick()
    assert [(e.kind, e.robot) for e in out.events] == [("robot_stale", "a"), ("robot_offline", "a")]


def _restarted(
    links: dict[tuple[str, str], Link], open_alerts: dict[str, str] | None = None
) -> Driver:
    snapshot = Snapshot(start_ms=T0, links=links, open_alerts=open_alerts or {})
    return Driver(Deriver(CONFIG, snapshot))


def test_no_robot_goes_stale_or_offline_during_the_restart_grace_period() -> None:
    d = _restarted({("f", "r1"): Link.ONLINE, ("f", "r2"): Link.ONLINE})
    assert d.at(19.999).tick().events == []


def test_after_the_grace_period_silent_robots_are_judged_from_the_restart() -> None:
    d = _restarted({("f", "r1"): Link.ONLINE})
    assert kinds(d.at(20).tick()) == ["robot_stale"]
    assert kinds(d.at(30).tick()) == ["robot_offline"]


def test_a_robot_that_reports_during_the_grace_period_is_not_reported_online_again() -> None:
    d = _restarted({("f", "r1"): Link.ONLINE})
    assert d.at(5).feed(fleet_state("f", robot("r1"))).events == []


def test_a_robot_offline_before_the_restart_is_not_reported_offline_again() -> None:
    d = _restarted({("f", "r1"): Link.OFFLINE}, {"robot_offline/f/r1": "robot_offline/f/r1@1"})
    assert d.at(100).tick().events == [] and d.at(100).tick().opened == []


def test_a_robot_offline_before_the_restart_closes_its_restored_alert_when_back() -> None:
    d = _restarted({("f", "r1"): Link.OFFLINE}, {"robot_offline/f/r1": "robot_offline/f/r1@1"})
    out = d.at(1).feed(fleet_state("f", robot("r1")))
    assert [c.alert_id for c in out.closed] == ["robot_offline/f/r1@1"]


def test_the_alert_of_a_robot_with_the_longest_names_fits_its_columns_and_still_closes() -> None:
    fleet, name = "f" * NAME_BYTES, "r" * NAME_BYTES
    d = Driver()
    d.at(0).feed(fleet_state(fleet, robot(name)))
    opened = d.at(30).tick().opened[0]
    assert len(opened.alert_id.encode()) <= NAME_BYTES
    assert len(opened.condition.encode()) <= CONDITION_BYTES
    # The hub restarts: its alerts come back from the rows, keyed as stored.
    restored = AlertBook(d.deriver.alerts.open_alerts)
    out = Output()
    restored.close(out, offline_condition(fleet, name), T0)
    assert [c.alert_id for c in out.closed] == [opened.alert_id]
