"""Position history downsampling: on change beyond thresholds, at most once per interval."""

from __future__ import annotations

from tests.derive.inputs import Driver, fleet_state, robot


def test_the_first_position_is_sampled() -> None:
    assert len(Driver().at(0).feed(fleet_state("f", robot())).samples) == 1


def test_a_move_within_the_interval_is_not_sampled() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot()))
    assert d.at(0.5).feed(fleet_state("f", robot(x=5.0))).samples == []


def test_a_move_after_the_interval_is_sampled() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot()))
    assert [s.x for s in d.at(1).feed(fleet_state("f", robot(x=5.0))).samples] == [5.0]


def test_standing_still_is_not_sampled_again() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot()))
    assert d.at(10).feed(fleet_state("f", robot(x=0.05))).samples == []


def test_a_status_change_is_sampled_without_moving() -> None:
    d = Driver()
    d.at(0).feed(fleet_state("f", robot()))
    assert len(d.at(2).feed(fleet_state("f", robot(status="charging"))).samples) == 1
