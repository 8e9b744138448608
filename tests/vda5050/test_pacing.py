"""Vehicle reports coalesce into one fleet state per window, none lost, the delay bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.vda5050.loopback import TOPICS, Loopback
from vda5050.master import MasterConfig
from vda5050.pacing import FleetPacer

VEHICLES = 4
PER_ROBOT_S = 0.25
WINDOW_S = VEHICLES * PER_ROBOT_S


def test_a_report_after_a_quiet_window_is_due_at_once() -> None:
    pacer = FleetPacer(per_robot_s=0.01)
    assert pacer.next_due() is None
    pacer.reported("f", robots=10)
    assert pacer.due(now=0.0) == {"f"}
    pacer.sent({"f"}, now=0.0)
    assert pacer.next_due() is None


def test_reports_within_a_window_are_due_at_its_end() -> None:
    pacer = FleetPacer(per_robot_s=0.01)
    pacer.sent({"f"}, now=5.0)
    pacer.reported("f", robots=10)
    pacer.reported("f", robots=10)
    assert pacer.next_due() == pytest.approx(5.1)
    assert pacer.due(now=5.05) == set()
    assert pacer.due(now=5.1) == {"f"}


def test_each_fleet_has_its_own_window() -> None:
    pacer = FleetPacer(per_robot_s=0.01)
    pacer.sent({"big", "small"}, now=0.0)
    pacer.reported("big", robots=100)
    pacer.reported("small", robots=1)
    assert pacer.next_due() == pytest.approx(0.01)
    assert pacer.due(now=0.5) == {"small"}
    assert pacer.due(now=1.0) == {"big", "small"}


@pytest.fixture
def loop(tmp_path: Path) -> Loopback:
    config = MasterConfig(
        topics=TOPICS, vehicles={}, default_fleet="vda", fleet_state_per_robot_s=PER_ROBOT_S
    )
    loop = Loopback(tmp_path / "journal.sqlite3", vehicles=VEHICLES, config=config)
    loop.master.flush()
    loop.to_hub.clear()
    return loop


def _fleet_states(loop: Loopback) -> list[dict[str, Any]]:
    return loop.hub("fleet_state_update")


def _report_at(loop: Loopback, serial: str, x: float) -> None:
    vehicle = loop.vehicles[serial]
    vehicle.x = x
    loop.report(serial)


def test_reports_in_a_window_make_one_fleet_state_with_every_vehicles_latest(
    loop: Loopback,
) -> None:
    loop.mono += WINDOW_S / 10
    for step in range(3):
        for i, serial in enumerate(loop.vehicles):
            _report_at(loop, serial, 10.0 * i + step)
            loop.master.flush()
    assert _fleet_states(loop) == []
    assert loop.master.flush_due_in() == pytest.approx(WINDOW_S * 0.9)

    loop.mono += WINDOW_S
    loop.master.flush()
    [state] = _fleet_states(loop)
    robots = {name: robot["location"]["x"] for name, robot in state["robots"].items()}
    assert robots == {serial: 10.0 * i + 2 for i, serial in enumerate(loop.vehicles)}
    assert loop.master.flush_due_in() is None


def test_the_first_report_after_a_quiet_window_goes_at_once(loop: Loopback) -> None:
    loop.mono += WINDOW_S
    _report_at(loop, "v1", 42.0)
    assert loop.master.flush_due_in() == 0.0
    loop.master.flush()
    [state] = _fleet_states(loop)
    assert state["robots"]["v1"]["location"]["x"] == 42.0


def test_other_changes_do_not_wait_for_the_window_and_carry_the_reports(loop: Loopback) -> None:
    loop.mono += WINDOW_S / 10
    _report_at(loop, "v1", 7.0)
    assert loop.master.flush_due_in() == pytest.approx(WINDOW_S * 0.9)
    loop.connect("v2", "CONNECTIONBROKEN")
    assert loop.master.flush_due_in() == 0.0
    loop.master.flush()
    [state] = _fleet_states(loop)
    assert state["robots"]["v1"]["location"]["x"] == 7.0
    assert "v2" not in state["robots"]
    assert loop.master.flush_due_in() is None


def test_without_a_window_every_flush_sends_what_was_reported(tmp_path: Path) -> None:
    loop = Loopback(
        tmp_path / "journal.sqlite3",
        vehicles=2,
        config=MasterConfig(
            topics=TOPICS, vehicles={}, default_fleet="vda", fleet_state_per_robot_s=0.0
        ),
    )
    loop.master.flush()
    loop.to_hub.clear()
    for x in (1.0, 2.0):
        _report_at(loop, "v1", x)
        assert loop.master.flush_due_in() == 0.0
        loop.master.flush()
    assert [s["robots"]["v1"]["location"]["x"] for s in _fleet_states(loop)] == [1.0, 2.0]
