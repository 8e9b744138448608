"""Which vehicle takes a task: the cheapest by time, among those whose battery can afford it.

A vehicle's cost for a task is the time until it would be done with it:
what is left of its current task (its queue), then the drive from where
it will be (where it stands, or the end of its current route) to the
task's first place and on through its places, at the vehicle's speed.
A vehicle is not a candidate when its battery is at or below the critical
level (it goes to charge instead), or when what the task and the way on
to the nearest charger would drain (metres times drain per metre) leaves less
than the critical level. The choice is kept with the runner-up's cost, so
the task's log can say why this vehicle and not the next.

Pure: the master control gathers the candidates and applies the choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vda5050.graph import NavGraph


@dataclass(frozen=True, slots=True)
class BatteryPolicy:
    critical: float = 0.1
    """At or below this charge (0..1) a vehicle takes no task and goes to charge."""
    drain_per_m: float = 0.0005
    """Charge (0..1) a metre of driving costs, to check a task is affordable."""


@dataclass(frozen=True, slots=True)
class Candidate:
    robot: str
    start: str
    """The vertex it starts the task from: where it stands, or where its current route ends."""
    queue_s: float
    """What is left of its current task; 0 when idle."""
    battery: float
    speed_mps: float


@dataclass(frozen=True, slots=True)
class Quote:
    robot: str
    cost_s: float
    """``inf`` when it cannot take the task (``refusal`` says why)."""
    travel_s: float = 0.0
    queue_s: float = 0.0
    battery: float = 0.0
    refusal: str = ""

    def describe(self) -> str:
        if self.refusal:
            return f"[robot:{self.robot}] {self.refusal}"
        return (
            f"[robot:{self.robot}] {self.cost_s:.0f} s (drive {self.travel_s:.0f} s,"
            f" queue {self.queue_s:.0f} s, battery {self.battery:.0%})"
        )


def quote(graph: NavGraph, candidate: Candidate, places: list[str], policy: BatteryPolicy) -> Quote:
    """What ``candidate`` would cost for a task through ``places``, or why it cannot take it."""
    name = candidate.robot
    if candidate.battery <= policy.critical:
        return Quote(name, math.inf, refusal=f"battery {candidate.battery:.0%} is critical")
    metres = 0.0
    at = candidate.start
    for place in places:
        metres += graph.distance(at, place)
        at = place
    if math.isinf(metres):
        return Quote(name, math.inf, refusal="cannot reach the task's places")
    left = candidate.battery - (metres + graph.to_charger(at)) * policy.drain_per_m
    if left < policy.critical:
        return Quote(
            name,
            math.inf,
            refusal=f"battery {candidate.battery:.0%} does not cover the task and the way to a charger",
        )
    travel_s = metres / candidate.speed_mps
    return Quote(
        name,
        candidate.queue_s + travel_s,
        travel_s=travel_s,
        queue_s=candidate.queue_s,
        battery=candidate.battery,
    )


def rank(quotes: list[Quote]) -> list[Quote]:
    """Cheapest first; ties by robot name, so the same inputs always choose the same vehicle."""
    return sorted(quotes, key=lambda q: (q.cost_s, q.robot))


def explain(ranked: list[Quote]) -> str:
    """The task log's line for the choice of ``ranked[0]``."""
    chosen, rest = ranked[0], ranked[1:]
    text = f"Chose {chosen.describe()}"
    if rest and not math.isinf(rest[0].cost_s):
        return f"{text}; runner-up {rest[0].describe()}"
    refused = [q.describe() for q in rest if q.refusal]
    return f"{text}; no other candidate" + (f" ({'; '.join(refused)})" if refused else "")


def bid(quotes: dict[str, list[Quote]]) -> tuple[str, str] | None:
    """For a dispatch naming no fleet: the fleet whose best vehicle costs least, and why.

    None when no vehicle of any fleet can take the task: the master control
    declines and RMF's dispatcher gets it (see :mod:`hub.rmf_gateway`).
    """
    best = sorted(
        (ranked[0].cost_s, fleet, ranked[0])
        for fleet, ranked in ((f, rank(q)) for f, q in quotes.items() if q)
        if not math.isinf(ranked[0].cost_s)
    )
    if not best:
        return None
    _, fleet, chosen = best[0]
    text = f"No fleet named: fleet {fleet} bids {chosen.cost_s:.0f} s ([robot:{chosen.robot}])"
    if len(best) > 1:
        _, other, runner = best[1]
        text += f"; next fleet {other} {runner.cost_s:.0f} s ([robot:{runner.robot}])"
    return fleet, text
