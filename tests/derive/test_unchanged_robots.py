"""A robot's unchanged state, handed over again as the same validated object, is not derived
again; what depends on time passing still happens for it."""

from __future__ import annotations

import dataclasses
from typing import Any
from unittest import mock

from fleetcore.contract.ingest import IngestMessage, IngestType
from fleetcore.contract.robot_reuse import RobotReuse
from hub.derive.config import Connectivity
from hub.derive.health import HealthTracker
from tests.derive.inputs import CONFIG, Driver, kinds, robot

ALWAYS_ONLINE = dataclasses.replace(CONFIG, connectivity=Connectivity(10**9, 10**9))


class Fleet:
    """Fleet states validated as ingest validates them: an unchanged robot is the same object."""

    def __init__(self) -> None:
        self._reuse = RobotReuse()

    def state(self, *robots: dict[str, Any]) -> IngestMessage:
        data = {"name": "f", "robots": {r["name"]: r for r in robots}}
        return IngestMessage(IngestType.FLEET_STATE, self._reuse.validate(data))


def _derived_robots(driver: Driver, message: IngestMessage) -> list[str]:
    """The robots whose health ``message`` made the deriver work out."""
    with mock.patch.object(
        HealthTracker, "_movement", autospec=True, side_effect=HealthTracker._movement
    ) as movement:
        driver.feed(message)
    return [call.args[4] for call in movement.call_args_list]


def test_only_the_changed_robot_of_a_fleet_state_is_derived_again() -> None:
    fleet, d = Fleet(), Driver()
    d.at(0).feed(fleet.state(robot("r1"), robot("r2")))
    assert _derived_robots(d.at(1), fleet.state(robot("r1"), robot("r2", x=3.0))) == ["r2"]


def test_a_robot_equal_but_validated_anew_is_derived_again() -> None:
    d = Driver()
    d.at(0).feed(Fleet().state(robot("r1")))
    assert _derived_robots(d.at(1), Fleet().state(robot("r1"))) == ["r1"]


def test_a_working_robot_whose_state_never_changes_turns_stuck() -> None:
    fleet, d = Fleet(), Driver(config=ALWAYS_ONLINE)
    d.at(0).feed(fleet.state(robot(status="working")))
    d.at(30).feed(fleet.state(robot(status="working")))
    d.at(61).feed(fleet.state(robot(status="working")))
    assert kinds(d.tick()) == ["robot_stuck"]


def test_a_stuck_robot_stays_stuck_while_its_state_is_unchanged() -> None:
    fleet, d = Fleet(), Driver(config=ALWAYS_ONLINE)
    d.at(0).feed(fleet.state(robot(status="working")))
    d.at(61).tick()
    out = d.at(62).feed(fleet.state(robot(status="working")))
    assert out.events == [] and out.closed == []


def test_a_stuck_robot_that_moves_is_unstuck() -> None:
    fleet, d = Fleet(), Driver(config=ALWAYS_ONLINE)
    d.at(0).feed(fleet.state(robot(status="working")))
    d.at(61).tick()
    out = d.at(62).feed(fleet.state(robot(status="working", x=5.0)))
    assert kinds(out) == ["robot_unstuck"]


def test_a_robot_reporting_an_unchanged_state_stays_online() -> None:
    fleet, d = Fleet(), Driver()
    for second in range(0, 60, 5):
        d.at(second).feed(fleet.state(robot()))
        assert d.tick().events == []


def test_a_move_seen_within_the_interval_is_sampled_when_the_same_state_comes_after_it() -> None:
    fleet, d = Fleet(), Driver()
    d.at(0).feed(fleet.state(robot()))
    assert d.at(0.5).feed(fleet.state(robot(x=5.0))).samples == []
    assert [s.x for s in d.at(1).feed(fleet.state(robot(x=5.0))).samples] == [5.0]


def test_an_unchanged_sampled_robot_is_not_sampled_again() -> None:
    fleet, d = Fleet(), Driver()
    d.at(0).feed(fleet.state(robot()))
    assert [d.at(t).feed(fleet.state(robot())).samples for t in (1, 5, 60)] == [[], [], []]
