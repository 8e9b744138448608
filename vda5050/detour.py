"""A robot held back at its decision point takes another way when one is about as short.

On a graph with many ways of one length (a grid of aisles), waiting for the
robot that holds the next node is often slower than turning a corner
earlier. A held-back robot therefore looks, on each tick, for a way from its
decision point to its next place over nodes and lanes no other robot holds;
it takes it when it is no longer than ``slack`` times the shortest way
(which it would drive once the holder moves on). Deadlocks are broken as
before (:mod:`vda5050.deadlock`); this only spares waits that were not one.

A new order's route is priced the same way (:func:`toll`): on its first leg
each lane into a node or along a lane another robot holds costs ``toll_m``
more, so of the ways about as short it takes one around held stretches
rather than queueing behind them (on a grid of aisles, a different corner).

Pure: the master control re-lays the order when this says so.
"""

from __future__ import annotations

from collections.abc import Callable

from vda5050.deadlock import passable
from vda5050.graph import Lane, NavGraph, NoRoute
from vda5050.traffic import Traffic


def worth_it(
    graph: NavGraph, traffic: Traffic, robot: str, decision: str, goal: str, slack: float
) -> bool:
    """Whether ``robot`` at ``decision`` has a free way to ``goal`` within ``slack`` x the shortest."""
    shortest = graph.distance(decision, goal)
    if decision == goal or shortest <= 0:
        return False
    try:
        way = graph.route(decision, goal, passable(traffic, robot))
    except NoRoute:
        return False
    return sum(lane.length for lane in way) <= slack * shortest


def toll(traffic: Traffic, robot: str, toll_m: float) -> Callable[[Lane], float]:
    """For :meth:`NavGraph.route`'s ``toll``: ``toll_m`` for a lane or its end held by another."""
    held = passable(traffic, robot)

    def price(lane: Lane) -> float:
        return toll_m if held(lane) else 0.0

    return price
