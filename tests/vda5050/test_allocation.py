"""Allocation by cost: travel time from where each vehicle will be, its queue, its battery."""

from __future__ import annotations

import math
from pathlib import Path

from tests.vda5050.loopback import Loopback, graph, patrol
from vda5050.allocation import BatteryPolicy, Candidate, explain, quote, rank

POLICY = BatteryPolicy(critical=0.1, drain_per_m=0.0005)


def test_the_nearer_vehicle_costs_less() -> None:
    near = quote(graph(), Candidate("near", "charger_2", 0.0, 0.9, 1.0), ["pantry"], POLICY)
    far = quote(graph(), Candidate("far", "parking_2", 0.0, 0.9, 1.0), ["pantry"], POLICY)
    assert near.cost_s < far.cost_s
    assert rank([far, near])[0].robot == "near"


def test_a_busy_vehicle_counts_from_the_end_of_its_route_after_its_queue() -> None:
    busy = quote(graph(), Candidate("busy", "pantry", 30.0, 0.9, 1.0), ["pantry"], POLICY)
    assert (busy.cost_s, busy.queue_s, busy.travel_s) == (30.0, 30.0, 0.0)


def test_a_vehicle_at_critical_battery_takes_no_task() -> None:
    low = quote(graph(), Candidate("low", "pantry", 0.0, 0.1, 1.0), ["pantry"], POLICY)
    assert math.isinf(low.cost_s) and "critical" in low.refusal


def test_a_battery_that_does_not_cover_the_task_and_the_way_to_a_charger_is_refused() -> None:
    thirsty = BatteryPolicy(critical=0.1, drain_per_m=0.01)
    short = quote(graph(), Candidate("short", "lobby", 0.0, 0.5, 1.0), ["room_102"], thirsty)
    assert math.isinf(short.cost_s)
    assert "does not cover" in short.refusal


def test_the_explanation_names_the_chosen_vehicle_and_the_runner_up_with_their_costs() -> None:
    ranked = rank(
        [
            quote(graph(), Candidate("v2", "parking_2", 0.0, 0.9, 1.0), ["pantry"], POLICY),
            quote(graph(), Candidate("v1", "charger_2", 0.0, 0.8, 1.0), ["pantry"], POLICY),
        ]
    )
    text = explain(ranked)
    assert text.startswith("Chose [robot:v1] 12 s (drive 12 s, queue 0 s, battery 80%)")
    assert "runner-up [robot:v2] 28 s" in text


def test_the_task_log_says_which_vehicle_was_chosen_and_why(tmp_path: Path) -> None:
    loop = Loopback(tmp_path / "j.sqlite3")
    task = loop.dispatch(patrol("pantry"))
    entries = [e["text"] for log in loop.hub("task_log_update") for e in log.get("log", [])]
    chose = next(text for text in entries if text.startswith("Chose"))
    assert f"[robot:{loop.master.tasks[task].robot}]" in chose
    assert "runner-up" in chose


def test_a_vehicle_at_critical_battery_goes_to_charge_and_another_takes_the_task(
    tmp_path: Path,
) -> None:
    loop = Loopback(tmp_path / "j.sqlite3", starts=["pantry", "parking_2"])
    loop.vehicles["v1"].battery = 5.0
    loop.report("v1")
    task = loop.dispatch(patrol("room_101"))
    assert loop.master.tasks[task].robot == "v2"
    loop.run(1.0)
    errands = [t for t in loop.master.tasks.values() if t.category == "charge"]
    assert [(t.robot, t.steps[0].spec.place) for t in errands] == [("v1", "charger_2")]
    loop.until(lambda: loop.status(task) == "completed" and errands[0].status == "completed")
