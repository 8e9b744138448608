"""Lift requests from outside (the dashboard): a session rides the simulated lift, then ends."""

from __future__ import annotations

import pytest

from simulator import CommandRejected, Simulation
from simulator.simulation import LIFT_END_SESSION, OPERATOR_SESSION

from .conftest import step_until

AGV_MODE = 1


def lift_state(sim: Simulation) -> dict[str, object]:
    (lift,) = sim.lifts.values()
    return lift.state(0)


def test_a_lift_request_takes_the_lift_to_its_destination(sim: Simulation) -> None:
    (name,) = sim.lifts
    start = str(lift_state(sim)["current_floor"])
    (destination,) = [floor for floor in sim.lifts[name].floors if floor != start]
    sim.request_lift(name, destination, AGV_MODE)
    step_until(sim, lambda: lift_state(sim)["session_id"] == OPERATOR_SESSION, max_s=60)
    step_until(
        sim,
        lambda: (
            lift_state(sim)["current_floor"] == destination and lift_state(sim)["session_id"] == ""
        ),
        max_s=120,
    )


def test_ending_the_session_frees_the_lift(sim: Simulation) -> None:
    (name,) = sim.lifts
    (destination, *_) = sim.lifts[name].floors
    sim.request_lift(name, destination, AGV_MODE)
    step_until(sim, lambda: lift_state(sim)["session_id"] == OPERATOR_SESSION, max_s=60)
    sim.request_lift(name, "", LIFT_END_SESSION)
    assert lift_state(sim)["session_id"] == ""


@pytest.mark.parametrize(("lift", "floor"), [("no_such_lift", "L1"), (None, "L9")])
def test_an_unknown_lift_or_floor_is_refused(sim: Simulation, lift: str | None, floor: str) -> None:
    with pytest.raises(CommandRejected):
        sim.request_lift(lift or next(iter(sim.lifts)), floor, AGV_MODE)
