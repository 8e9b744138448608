"""A vehicle that vanishes mid-task, in memory: its reservations stay held until it is seen or cleared.

Vehicle ``v1`` drives a patrol and vanishes (its connection breaks, or its
state goes silent) while holding the corridor; its task is canceled as the
hub's reassignment policy would. ``v2`` then needs that corridor: it waits,
and goes on only once ``v1`` reports again or an operator clears it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from simulator.vehicles import VehicleProfile
from tests.vda5050.loopback import TOPICS, Loopback, patrol
from vda5050.master import MasterConfig
from vda5050.orders import ReleasePolicy

GONE = "vda/v1"


@pytest.fixture
def loop(tmp_path: Path) -> Loopback:
    return Loopback(tmp_path / "journal.sqlite3")


def _vanish_mid_task(loop: Loopback) -> tuple[set[str], str]:
    """``v1`` vanishes on its way and its task is canceled; returns what it held and ``v2``'s task."""
    task = loop.dispatch(patrol("room_102"), robot="v1")
    order = loop.master.tasks[task].order
    assert order is not None
    loop.until(lambda: order.traversed >= 1)
    loop.silent.add("v1")
    loop.connect("v1", "CONNECTIONBROKEN")
    held = loop.master.traffic.held(GONE)
    loop.master.cancel(loop.master.tasks[task], "canceled", ["reason=robot v1 offline"])
    follower = loop.dispatch(patrol("room_102"), robot="v2")
    loop.run(30.0)
    return held, follower


def test_a_vanished_robot_keeps_its_reservations_and_no_other_robot_is_released_onto_them(
    loop: Loopback,
) -> None:
    held, follower = _vanish_mid_task(loop)
    assert held and loop.master.traffic.held(GONE) == held
    assert loop.master.traffic.waits["vda/v2"].holder == GONE, "v2 needs what v1 holds"
    assert not loop.released("v2") & held
    assert loop.status(follower) == "underway"
    assert "v1" not in loop.fleet_robots()


def test_a_vanished_robot_seen_again_releases_what_it_no_longer_stands_on(loop: Loopback) -> None:
    held, follower = _vanish_mid_task(loop)
    loop.silent.discard("v1")
    loop.connect("v1")
    loop.until(lambda: loop.status(follower) == "completed")
    assert loop.master.traffic.held(GONE) != held
    assert GONE not in loop.master.recovery.vanished


def test_an_operator_clears_a_vanished_robots_reservations_and_the_other_robot_goes_on(
    loop: Loopback,
) -> None:
    held, follower = _vanish_mid_task(loop)
    result = loop.master.clear_reservations("vda", "v1")
    assert result.ok and set(result.released) == held
    assert loop.master.traffic.held(GONE) == set()
    loop.until(lambda: loop.status(follower) == "completed")
    notes = [
        entry["text"]
        for update in loop.hub("fleet_log_update")
        for entry in update["robots"].get("v1", [])
    ]
    assert any("operator cleared" in note for note in notes), notes


def test_clearing_the_reservations_of_a_robot_that_reports_is_refused(loop: Loopback) -> None:
    loop.run(1.0)
    before = loop.master.traffic.held(GONE)
    result = loop.master.clear_reservations("vda", "v1")
    assert not result.ok and "not vanished" in result.refused
    assert loop.master.traffic.held(GONE) == before != set()


def test_a_restarted_master_control_holds_a_vanished_robots_reservations_again(
    loop: Loopback,
) -> None:
    held, follower = _vanish_mid_task(loop)
    loop.restart_master()
    loop.connect("v1", "CONNECTIONBROKEN")  # the retained last will, as the broker sends it
    loop.run(30.0)
    assert loop.master.traffic.held(GONE) == held
    assert GONE in loop.master.recovery.vanished
    assert not loop.released("v2") & held
    assert loop.status(follower) == "underway"


def test_a_robot_whose_state_goes_silent_past_the_timeout_vanishes_holding_its_node(
    loop: Loopback,
) -> None:
    loop.run(1.0)
    before = loop.master.traffic.held(GONE)
    loop.silent.add("v1")
    loop.run(loop.master.config.state_timeout_s + 1.0)
    assert loop.master.recovery.vanished[GONE].reason == "state silent"
    assert loop.master.traffic.held(GONE) == before != set()
    assert "v1" not in loop.fleet_robots()


@pytest.mark.parametrize("restart_s", [1.0, 3.0, 4.5, 5.0, 5.5, 6.0, 8.0])
def test_a_master_control_restarted_at_any_moment_of_a_crowded_run_sends_no_order_twice(
    tmp_path: Path, restart_s: float
) -> None:
    """Three vehicles crossing one corridor, deadlocks broken by detours; restarted at ``restart_s``."""
    config = MasterConfig(
        topics=TOPICS,
        vehicles={},
        default_fleet="vda",
        release=ReleasePolicy(release_nodes=2),
        resend_s=600.0,  # nothing is lost here: any repeat would be a duplicate
    )
    loop = Loopback(
        tmp_path / "journal.sqlite3",
        vehicles=3,
        config=config,
        profile=VehicleProfile(speed_mps=3.0, action_s=0.3),
    )
    tasks = [
        loop.dispatch(patrol(*places))
        for places in (("room_101", "lobby"), ("room_102", "pantry"), ("lobby", "room_102"))
    ]
    loop.run(restart_s)
    loop.restart_master()
    loop.until(lambda: all(loop.status(task) == "completed" for task in tasks), seconds=120)
    sent = Counter((order.orderId, order.orderUpdateId) for order in loop.orders())
    assert all(count == 1 for count in sent.values()), sent
